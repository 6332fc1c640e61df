"""Each form a template gives an HTTP API in (tests/integration/forms/, adapted from AWS SAM CLI's start-api fixtures),
served by a dev server of its own and requested over HTTP as a user would: an OpenAPI DefinitionBody, a DefinitionUri
file, what CDK synthesizes into cdk.out, a quick-created API, nested stacks. Every function echoes its event."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import DevServer

pytestmark = pytest.mark.devserver_only(reason="each form is a template of its own, with a dev server of its own")

FORMS = Path(__file__).resolve().parent / "forms"


def serve(tmp_path_factory: pytest.TempPathFactory, form: str, template: str, *args: str) -> Iterator[DevServer]:
    """A copy of the form (free to edit), served; its log beside it."""
    directory = tmp_path_factory.mktemp(form) / form
    shutil.copytree(FORMS / form, directory)
    server = DevServer(directory / template, directory.parent / "devserver.log", *args)
    yield server
    server.stop()


def echoed(server: DevServer, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """The echo function's answer: its event, its function name, its GREETING."""
    response = server.request(method, path, **kwargs)
    assert response.status_code == 200, (response.text, server.output())
    body: dict[str, Any] = response.json()
    return body


def not_found(server: DevServer, path: str) -> bool:
    response = server.get(path)
    return response.status_code == 404 and response.json() == {"message": "Not Found"}


@pytest.fixture(scope="module")
def openapi_body(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    yield from serve(tmp_path_factory, "openapi-body", "template.yaml")


@pytest.fixture(scope="module")
def openapi_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    yield from serve(tmp_path_factory, "openapi-uri", "template.yaml")


@pytest.fixture(scope="module")
def cdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    yield from serve(tmp_path_factory, "cdk", "ApiStack.template.json")


@pytest.fixture(scope="module")
def quick_create(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    yield from serve(tmp_path_factory, "quick-create", "template.yaml")


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    yield from serve(tmp_path_factory, "nested", "template.yaml", "--parameter-overrides", "Audience=integration")


def test_an_openapi_definition_body_serves_its_paths_and_the_events_that_name_its_api(openapi_body):
    anyandall = echoed(openapi_body, "DELETE", "/httpapi-anyandall?x=1")
    v1 = echoed(openapi_body, "GET", "/httpapi-payload-format-v1/42")
    event_route = echoed(openapi_body, "GET", "/get")

    assert anyandall["function"] == "MyHttpApiLambdaFunction"
    assert anyandall["event"]["version"] == "2.0"
    assert anyandall["event"]["routeKey"] == "ANY /httpapi-anyandall"
    assert (anyandall["event"]["rawPath"], anyandall["event"]["rawQueryString"]) == ("/httpapi-anyandall", "x=1")
    assert v1["function"] == "EchoEventHandlerHttpApiFunction"
    assert v1["event"]["version"] == "1.0"  # the integration's payloadFormatVersion
    assert (v1["event"]["resource"], v1["event"]["path"]) == (
        "/httpapi-payload-format-v1/{id}",
        "/httpapi-payload-format-v1/42",
    )
    assert v1["event"]["pathParameters"] == {"id": "42"}
    assert (event_route["function"], event_route["event"]["routeKey"]) == ("MyHttpApiLambdaFunction", "GET /get")


def test_what_the_definition_cannot_serve_is_a_404_named_at_start(openapi_body):
    assert not_found(openapi_body, "/httpapi-no-version")
    output = openapi_body.output()
    assert "warning: MyHttpApi GET /httpapi-no-version: its integration has no payload format version" in output
    assert "warning: MyHttpApi POST /httpapi-echoeventbody: its integration has no URI naming a function" in output
    assert "Mounted 3 routes" in output
    assert "ANY     /httpapi-anyandall" in output  # in the routes table


def test_a_definition_uri_file_serves_its_literal_arns_and_reloads_when_edited(openapi_uri):
    item = echoed(openapi_uri, "GET", "/items/7")
    created = echoed(openapi_uri, "POST", "/items", json={"name": "x"})

    assert (item["function"], item["event"]["routeKey"]) == ("forms-items", "GET /items/{id}")
    assert item["event"]["pathParameters"] == {"id": "7"}
    assert (created["event"]["routeKey"], created["event"]["body"]) == ("POST /items", '{"name": "x"}')
    assert not_found(openapi_uri, "/extra")  # an event SAM does not add to a DefinitionUri file
    assert "warning: ItemsFunction: its HttpApi event GET /extra names ItemsApi" in openapi_uri.output()

    definition = Path(openapi_uri.process.args[openapi_uri.process.args.index("--template") + 1]).with_name(
        "openapi.yaml"
    )
    definition.write_text(definition.read_text().replace("/items/{id}:", "/things/{id}:"))
    started = time.monotonic()
    while openapi_uri.get("/things/8").status_code != 200:
        assert time.monotonic() - started < 15, openapi_uri.output()
        time.sleep(0.1)
    assert not_found(openapi_uri, "/items/7")


def test_what_cdk_synthesizes_is_served_from_its_asset(cdk):
    info = echoed(cdk, "GET", "/get-info")
    proxied = echoed(cdk, "GET", "/proxypath/a/b")
    anyandall = echoed(cdk, "POST", "/anyandall", data="hi", headers={"content-type": "text/plain"})

    assert (info["function"], info["greeting"]) == ("lambdaFuncD745B556", "from cdk")
    assert (info["event"]["version"], info["event"]["routeKey"]) == ("2.0", "GET /get-info")
    assert proxied["event"]["routeKey"] == "GET /proxypath/{proxy+}"
    assert (proxied["event"]["rawPath"], proxied["event"]["pathParameters"]) == ("/proxypath/a/b", {"proxy": "a/b"})
    assert (anyandall["event"]["routeKey"], anyandall["event"]["body"]) == ("ANY /anyandall", "hi")
    assert not_found(cdk, "/get-info/more")


def test_a_quick_created_api_sends_every_request_to_its_target_with_its_cors(quick_create):
    response = quick_create.get("/anything/at/all?q=1", headers={"Origin": "https://example.com"})

    assert response.status_code == 200
    event = response.json()["event"]
    assert (event["routeKey"], event["rawPath"], event["rawQueryString"]) == ("$default", "/anything/at/all", "q=1")
    assert "pathParameters" not in event
    assert response.json()["function"] == "HelloWorldFunction"
    assert response.headers["Access-Control-Allow-Origin"] == "https://example.com"


def test_nested_stacks_serve_their_routes_with_the_parameters_their_parent_passes(nested):
    child = echoed(nested, "GET", "/child/world")
    plain = echoed(nested, "GET", "/stack/hello")

    assert (child["function"], child["greeting"]) == ("HelloFunction", "hello, integration")
    assert (child["event"]["routeKey"], child["event"]["pathParameters"]) == ("GET /child/{name}", {"name": "world"})
    assert (plain["function"], plain["event"]["routeKey"]) == ("StackFunction", "GET /stack/hello")
    assert "-> ChildApp/HelloFunction" in nested.output()

"""ANY /api/{proxy+}: 404 for unknown paths, 405 with Allow for a known path and another method, OPTIONS lists them.

Also checks the catch-all's route table and every function's resolver against template.yaml, so they cannot drift.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from typing import ClassVar

import pytest

from devserver.template import load_template, resources_of_type
from tests.conftest import ROOT, assert_problem, invoke, load_event, load_function

sys.path.insert(0, str(ROOT / "scripts"))
import openapi  # a script: found once its directory is on the path

CATCH_ALL = ("/api/{proxy+}", "ANY")
POST_ID = "3f1c2a9e-8b7d-4e21-9a6f-0c5d2e7b1a44"


def catch_all(method: str, path: str):
    return invoke("not_found", load_event("not_found/unknown_path.json", method=method, path=path))


def template_routes() -> dict[str, set[tuple[str, str]]]:
    """Function directory name -> the (path, method) pairs of its HttpApi events."""
    routes: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for resource in resources_of_type(load_template(ROOT / "template.yaml"), "AWS::Serverless::Function").values():
        function = resource["Properties"]["CodeUri"].strip("/").split("/")[-1]
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes[function].add((event["Properties"]["Path"], event["Properties"]["Method"].upper()))
    return routes


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PATCH"])
@pytest.mark.parametrize(
    "path", ["/api/nothing/here", "/api/posts/", f"/api/posts/{POST_ID}/comments", "/api/healthz", "/api/Posts"]
)
def test_an_unknown_path_is_404(aws, method, path):
    result = catch_all(method, path)

    body = assert_problem(result, 404, instance=path)
    assert body["detail"] == "No route matches this path."
    assert "allow" not in result.headers


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/posts", "GET, HEAD, POST, OPTIONS"),
        ("PUT", "/api/posts", "GET, HEAD, POST, OPTIONS"),
        ("PATCH", "/api/posts", "GET, HEAD, POST, OPTIONS"),
        ("POST", "/api/health", "GET, HEAD, OPTIONS"),
        ("DELETE", "/api/health", "GET, HEAD, OPTIONS"),
        ("POST", f"/api/posts/{POST_ID}", "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
        ("POST", "/api/posts/not-even-a-uuid", "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
    ],
)
def test_a_known_path_with_another_method_is_405_with_allow(aws, method, path, allow):
    result = catch_all(method, path)

    body = assert_problem(result, 405, instance=path)
    assert result.headers["allow"] == allow
    assert body["detail"] == "The method is not allowed for this resource."


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "OPTIONS"])
@pytest.mark.parametrize(
    "path", ["/api/posts/a%2Fb", "/api/posts/a%2fb", f"/api/posts/{POST_ID}%2F", "/api/health%2F", "/api/health%0A"]
)
def test_an_encoded_slash_separates_segments_as_api_gateway_routes_it(aws, method, path):
    """API Gateway decodes the path before it matches routes, so `/api/posts/a%2Fb` is `/api/posts/a/b`: no route
    has that shape, and the catch-all must say 404 for it too, not 405 from matching the raw path."""
    result = catch_all(method, path)

    body = assert_problem(result, 404, instance=path)
    assert body["detail"] == "No route matches this path."
    assert "allow" not in result.headers


def test_an_encoded_slash_that_makes_a_known_path_is_that_path(aws):
    # /api/posts%2F<id> is routed as /api/posts/<id>: a method that path does not serve is its 405.
    result = catch_all("POST", f"/api/posts%2F{POST_ID}")

    assert_problem(result, 405)
    assert result.headers["allow"] == "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"


def test_head_on_a_path_without_get_is_405_as_get_would_be(aws):
    # Every GET route has its HEAD route, so HEAD reaches the catch-all only where GET would too.
    got, head = catch_all("GET", "/api/auth/login"), catch_all("HEAD", "/api/auth/login")

    assert head.status == got.status == 405
    assert head.headers["allow"] == got.headers["allow"] == "POST, OPTIONS"
    assert head.body == got.body  # the gateway sends no body to a HEAD


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/posts", "GET, HEAD, POST, OPTIONS"),
        ("/api/health", "GET, HEAD, OPTIONS"),
        (f"/api/posts/{POST_ID}", "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
    ],
)
def test_options_on_a_known_path_is_204_with_allow(aws, path, allow):
    result = catch_all("OPTIONS", path)

    assert result.status == 204
    assert result.body == ""
    assert result.headers["allow"] == allow


def test_options_on_an_unknown_path_is_404(aws):
    assert_problem(catch_all("OPTIONS", "/api/nothing"), 404)


# Drift between template.yaml and the code.


def test_the_catch_all_knows_exactly_the_routes_of_the_template():
    declared: dict[str, set[str]] = defaultdict(set)
    for routes in template_routes().values():
        for path, method in routes:
            if (path, method) != CATCH_ALL:
                declared[path].add(method)

    known = {path: set(methods) for path, methods in load_function("not_found").ROUTES.items()}

    assert openapi.stale_catch_all_routes(ROOT / "template.yaml") == []
    assert known == dict(declared)


def test_a_route_added_or_removed_without_make_openapi_names_the_stale_file(tmp_path):
    """The template's routes against functions/not_found/routes.json, without describing any function."""
    text = (ROOT / "template.yaml").read_text()
    health = '        Head: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: "/api/health", Method: HEAD}}\n'
    greet = '        Greet: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Path: "/api/greet", Method: POST}}\n'
    assert health in text
    (tmp_path / "template.yaml").write_text(text.replace(health, greet, 1))
    routes = tmp_path / "functions" / "not_found" / "routes.json"
    routes.parent.mkdir(parents=True)
    routes.write_text((ROOT / "functions" / "not_found" / "routes.json").read_text())

    assert openapi.stale_catch_all_routes(tmp_path / "template.yaml", routes) == [
        "functions/not_found/routes.json is stale: run make openapi (template.yaml routes POST /api/greet, which it"
        " lacks; it lists HEAD /api/health, which template.yaml does not route)"
    ]


def test_every_get_route_of_the_template_has_its_head_route():
    """An HTTP API routes HEAD only where a route says HEAD (or ANY): a GET route does not match it
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html), and apikit.routes
    declares HEAD with every GET, so the template needs both."""
    for function, routes in template_routes().items():
        gets = {path for path, method in routes if method == "GET"}
        heads = {path for path, method in routes if method == "HEAD"}

        assert gets == heads, function


def test_only_the_catch_all_is_declared_with_any():
    any_routes = {
        (function, path) for function, routes in template_routes().items() for path, method in routes if method == "ANY"
    }

    assert any_routes == {("not_found", CATCH_ALL[0])}


def every_template_route():
    return sorted(
        (function, path, method)
        for function, routes in template_routes().items()
        for path, method in routes
        if (path, method) != CATCH_ALL
    )


@pytest.mark.parametrize(("function", "path", "method"), every_template_route())
def test_every_template_route_reaches_its_handler(create_post, function, path, method):
    # A route the function does not declare falls through to the resolver's "No route matches this path." 404.
    concrete = re.sub(r"\{[^/]+\}", create_post()["id"], path)
    event = load_event("health/get.json", method=method, path=concrete)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} {path}"

    result = invoke(function, event)

    if result.status == 404:
        assert result.json()["detail"] != "No route matches this path."
    assert result.status != 405


def test_a_path_parameter_that_does_not_fit_its_model_is_404_with_the_models_detail_or_a_generic_one():
    """A path that does not fit names no resource, as an id that does not exist (apikit.validation.parse_path)."""
    from pydantic import BaseModel, Field

    from apikit.errors import NotFound
    from apikit.validation import parse_path

    class OrderPath(BaseModel):
        id: str = Field(pattern=r"^o-[0-9]+$")

    class NamedPath(OrderPath):
        NOT_FOUND: ClassVar[str] = "No order has this id."

    assert parse_path({"id": "o-42"}, OrderPath) == OrderPath(id="o-42")
    with pytest.raises(NotFound) as generic:
        parse_path({"id": "42"}, OrderPath)
    with pytest.raises(NotFound) as named:
        parse_path({"id": "42"}, NamedPath)

    assert generic.value.detail == "No resource has this path."
    assert named.value.detail == "No order has this id."

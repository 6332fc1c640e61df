"""Stages as an HTTP API serves them, over real HTTP (tests/integration/stage_project): a named stage is the first
segment of every URL and stays in the paths the function sees, its StageVariables (merged with Globals.HttpApi's)
are the event's stageVariables, and payload format 1.0 events carry them field by field as AWS's example does.

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
"""

from __future__ import annotations

import http.client
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import DevServer

pytestmark = pytest.mark.devserver_only(reason="a dev server of its own on a template with a named stage")

PROJECT = Path(__file__).resolve().parent / "stage_project"
PROD_VARIABLES = {"shared": "from-globals", "color": "blue", "backend": "https://backend.example/v2"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    target = tmp_path_factory.mktemp("stages") / "project"
    shutil.copytree(PROJECT, target)
    server = DevServer(target / "template.yaml", target.parent / "devserver.log")
    yield server
    server.stop()


def test_a_named_stage_is_the_first_path_segment_and_stays_in_raw_path(server):
    """rawPath and requestContext.http.path keep `/prod`, as `$context.path` is documented ("/{stage}/root/child",
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html) and HTTP APIs are
    reported to send (aws-powertools/powertools-lambda-python#621); the route sees the path after it."""
    response = server.get("/prod/pets/7", params={"q": "1"})

    assert response.status_code == 200, server.output()
    event = response.json()
    assert event["rawPath"] == "/prod/pets/7"
    assert event["requestContext"]["http"]["path"] == "/prod/pets/7"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "GET /pets/{id}"
    assert event["pathParameters"] == {"id": "7"}
    assert event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == PROD_VARIABLES


@pytest.mark.parametrize("path", ["/pets/7", "/production/pets/7", "/Prod/pets/7"])
def test_a_path_outside_the_stage_is_api_gateways_404(server, path):
    response = server.get(path)

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_a_payload_1_0_event_under_a_named_stage_is_aws_1_0_example_field_by_field(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", "/prod/v1/pets/5?x=1&x=2&y=", skip_accept_encoding=True)
    for name, value in [
        ("X-Multi", "one"),
        ("X-Multi", "two"),
        ("Cookie", "a=1; b=2"),
        ("User-Agent", "itest/1.0"),
        ("Content-Type", "application/json"),
        ("Content-Length", "8"),
    ]:
        connection.putheader(name, value)
    connection.endheaders(b'{"a": 1}')
    raw = connection.getresponse()
    status, event = raw.status, json.loads(raw.read())
    connection.close()

    assert status == 200
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/pets/{id}"
    assert event["path"] == "/prod/v1/pets/5"  # with the stage, unlike a REST API's
    assert event["httpMethod"] == "POST"
    assert event["headers"]["x-multi"] == "two"
    assert event["multiValueHeaders"]["x-multi"] == ["one", "two"]
    assert event["headers"]["cookie"] == "a=1; b=2"  # 1.0 has no cookies field
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["pathParameters"] == {"id": "5"}
    assert event["stageVariables"] == PROD_VARIABLES
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    context = event["requestContext"]
    assert context["stage"] == "prod"
    assert context["path"] == "/prod/v1/pets/5"
    assert context["resourcePath"] == "/v1/pets/{id}"
    assert context["httpMethod"] == "POST"
    assert context["resourceId"] is None
    assert context["authorizer"] == {"claims": None, "scopes": None}
    assert context["extendedRequestId"] == context["requestId"]
    assert context["identity"] == {
        "accessKey": None,
        "accountId": None,
        "caller": None,
        "cognitoAuthenticationProvider": None,
        "cognitoAuthenticationType": None,
        "cognitoIdentityId": None,
        "cognitoIdentityPoolId": None,
        "principalOrgId": None,
        "sourceIp": "127.0.0.1",
        "user": None,
        "userAgent": "itest/1.0",
        "userArn": None,
    }
    assert "routeKey" not in event


def test_the_implicit_api_is_on_the_default_stage_with_the_globals_stage_variables(server):
    response = server.get("/status")

    assert response.status_code == 200
    event = response.json()
    assert (event["path"], event["requestContext"]["path"]) == ("/status", "/status")
    assert event["requestContext"]["stage"] == "$default"
    assert event["stageVariables"] == {"shared": "from-globals", "color": "grey"}
    assert server.get("/prod/status").status_code == 404

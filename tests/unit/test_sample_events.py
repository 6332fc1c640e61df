"""Each sample event in events/ is an event of its function's routes, and those listed here give the status the
HTTP contract documents (README.md, "Endpoints": its table of methods, paths and statuses).

Every file under events/ is checked against template.yaml (scripts/check_events.py), listed here or not: a sample
added for a new route is checked before anyone invokes it. The samples carry `Bearer REPLACE_WITH_ACCESS_TOKEN`;
here it becomes a real token, and the post they name exists.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT, bearer, invoke

sys.path.insert(0, str(ROOT / "scripts"))
import check_events  # a script: found once its directory is on the path

SAMPLE_POST_ID = "3f1c2a9e-8b7d-4e21-9a6f-0c5d2e7b1a44"
SAMPLE_USER = "user-123"  # the author the list sample filters by

# event file -> documented status. The GET sample sends If-None-Match "v1" for a post at version 1: 304.
EXPECTED = {
    "health/get.json": 200,
    "not_found/unknown_path.json": 404,
    "not_found/wrong_method.json": 405,
    "posts_create/post.json": 201,
    "posts_delete/delete.json": 204,
    "posts_get/get.json": 304,
    "posts_get/head.json": 200,
    "posts_list/get.json": 200,
    "posts_list/head.json": 200,
    "posts_patch/patch.json": 200,
    "posts_replace/put.json": 200,
}


@pytest.fixture
def sample_post(aws) -> None:
    """The post the samples name, at version 1, written by the sample user straight into the table."""
    now = "2026-11-27T10:50:00.000000Z"
    boto3.client("dynamodb").put_item(
        TableName="PostsTable",
        Item={
            "id": {"S": SAMPLE_POST_ID},
            "entity": {"S": "post"},
            "title": {"S": "Hello, Lambda"},
            "content": {"S": "Our first post, stored in DynamoDB."},
            "author_id": {"S": SAMPLE_USER},
            "created_at": {"S": now},
            "updated_at": {"S": now},
            "version": {"N": "1"},
        },
    )


def read_sample(name: str) -> dict:
    event = json.loads((ROOT / "events" / name).read_text())
    authorization = event["headers"].get("authorization")
    if authorization is not None:
        assert authorization == "Bearer REPLACE_WITH_ACCESS_TOKEN"  # no real token is ever committed
        event["headers"]["authorization"] = bearer(SAMPLE_USER)
    return event


def test_every_sample_event_of_these_functions_has_an_expected_status():
    # Only the functions this file covers: events of other functions belong to their own tests.
    functions = {name.split("/")[0] for name in EXPECTED}
    samples = {
        str(path.relative_to(ROOT / "events"))
        for function in functions
        for path in (ROOT / "events" / function).glob("*.json")
    }

    assert samples == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_sample_event_gives_its_documented_status(sample_post, name):
    event = read_sample(name)
    function = name.split("/")[0]

    result = invoke(function, event)

    assert result.status == EXPECTED[name], result.body
    assert result.headers["x-request-id"] == event["requestContext"]["requestId"]
    if result.status in {204, 304}:  # a HEAD answers as its GET: the gateway drops the body
        assert result.body == ""
    elif result.status >= 400:
        assert result.headers["content-type"] == "application/problem+json"
    else:
        assert result.headers["content-type"] == "application/json"


def test_the_list_sample_finds_the_sample_users_post(sample_post):
    result = invoke("posts_list", read_sample("posts_list/get.json"))

    assert [item["id"] for item in result.json()["items"]] == [SAMPLE_POST_ID]


def test_every_sample_event_is_an_event_of_its_functions_routes():
    assert check_events.check(ROOT) == []


# A function routed POST /api/greet/{name}, and an event of it: the line numbers below are this event's, indent 2.
GREET = """\
Resources:
  GreetFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/greet/
      Handler: app.handler
      Runtime: python3.13
      Events:
        Post: {Type: HttpApi, Properties: {Path: "/api/greet/{name}", Method: POST}}
"""
EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "POST /api/greet/{name}",
    "rawPath": "/api/greet/ada",
    "rawQueryString": "",
    "headers": {"content-length": "13", "content-type": "application/json"},
    "requestContext": {
        "http": {"method": "POST", "path": "/api/greet/ada", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10"},
        "requestId": "Vb3kDjYkoAMEb4D=",
        "routeKey": "POST /api/greet/{name}",
        "stage": "$default",
        "timeEpoch": 1796035849017,
    },
    "pathParameters": {"name": "ada"},
    "body": '{"hi": "ada"}',
    "isBase64Encoded": False,
}


def greet_problems(tmp_path: Path, text: str | None = None, name: str = "greet/post.json", **changes: Any) -> list:
    """check_events.check on a project of GREET and one event: EVENT with `changes` (None removes a key), or text."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "template.yaml").write_text(GREET)
    event = {key: value for key, value in (EVENT | changes).items() if value is not None}
    (tmp_path / "events" / name).parent.mkdir(parents=True)
    (tmp_path / "events" / name).write_text(json.dumps(event, indent=2) if text is None else text)
    return check_events.check(tmp_path)


def test_the_event_as_written_passes(tmp_path):
    assert greet_problems(tmp_path) == []


def test_an_event_of_no_route_of_its_function_is_reported_at_its_route_key(tmp_path):
    routed = dict(EVENT["requestContext"], routeKey="GET /api/greet")

    assert greet_problems(tmp_path, routeKey="GET /api/greet", requestContext=routed) == [
        'events/greet/post.json:3: routeKey "GET /api/greet" is not a route of GreetFunction in template.yaml'
        " (its routes: POST /api/greet/{name})"
    ]


def test_a_path_method_or_path_parameter_that_is_not_the_routes_is_reported_at_its_line(tmp_path):
    context = EVENT["requestContext"]
    http = dict(context["http"], method="PUT")

    assert greet_problems(tmp_path, rawPath="/api/greet", requestContext=dict(context, http=http)) == [
        'events/greet/post.json:13: rawPath "/api/greet" but requestContext.http.path is "/api/greet/ada"',
        'events/greet/post.json:12: routeKey "POST /api/greet/{name}" but requestContext.http.method is "PUT"',
        'events/greet/post.json:4: routeKey "POST /api/greet/{name}" but rawPath "/api/greet" is not a path of'
        " /api/greet/{name}",
    ]


def test_path_parameters_must_be_what_the_route_takes_from_the_raw_path(tmp_path):
    assert greet_problems(tmp_path, pathParameters={"name": "bob"}) == [
        'events/greet/post.json:22: rawPath "/api/greet/ada" but pathParameters is {"name": "bob"}, not {"name": "ada"}'
    ]


def test_a_content_length_that_is_not_the_bodys_bytes_is_reported_base64_decoded(tmp_path):
    encoded = base64.b64encode(b"\x89PNG").decode()

    assert greet_problems(tmp_path, body=encoded, isBase64Encoded=True) == [
        'events/greet/post.json:7: content-length is "13" but the body is 4 bytes'
    ]


def test_an_event_that_is_not_payload_2_0_is_reported_with_its_file_name(tmp_path):
    assert greet_problems(tmp_path, version="1.0", isBase64Encoded=None) == [
        "events/greet/post.json:1: isBase64Encoded is missing, not a bool (HTTP API payload format 2.0)"
    ]
    assert greet_problems(tmp_path / "v1", version="1.0") == [
        'events/greet/post.json:2: version is "1.0", not "2.0" (HTTP API payload format 2.0)'
    ]
    assert greet_problems(tmp_path / "json", text='{\n  "version": "2.0",\n}') == [
        "events/greet/post.json:2: not JSON: Illegal trailing comma before end of object"
    ]


def test_an_event_in_a_directory_of_no_function_is_reported(tmp_path):
    assert greet_problems(tmp_path, name="greeting/post.json") == [
        "events/greeting/post.json: no function in template.yaml has CodeUri functions/greeting/"
    ]


def test_a_header_name_in_capitals_and_a_body_that_is_not_base64_are_reported(tmp_path):
    headers = {"Content-Type": "application/json"}

    assert greet_problems(tmp_path, headers=headers, body="not base64!", isBase64Encoded=True) == [
        'events/greet/post.json:7: header "Content-Type" is not lower case, as API Gateway sends every header name',
        "events/greet/post.json:24: isBase64Encoded is true but body is not base64",
    ]

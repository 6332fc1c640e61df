"""Each sample event in events/ gives the status the HTTP contract documents (docs: /work/shared/DESIGN.md table).

The samples carry `Bearer REPLACE_WITH_ACCESS_TOKEN`; here it becomes a real token, and the post they name exists.
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests.conftest import ROOT, bearer, invoke

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


def test_the_samples_are_api_gateway_v2_events():
    for name in EXPECTED:
        event = json.loads((ROOT / "events" / name).read_text())
        method, path = event["routeKey"].split(" ", 1)
        assert event["version"] == "2.0"
        assert event["requestContext"]["routeKey"] == event["routeKey"]
        assert event["rawPath"] == event["requestContext"]["http"]["path"]
        assert method in {"ANY", event["requestContext"]["http"]["method"]}
        assert event["rawPath"].startswith("/api/")
        assert path.startswith("/api/")

"""What every answer shares: 500s that leak nothing, X-Request-Id on every response, no tokens in the logs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from apikit.app import SECURITY_HEADERS
from apikit.errors import Conflict, NotFound
from devserver.worker import LambdaContext
from tests.conftest import Result, assert_problem, bearer, invoke, load_event, post_event

SECRET = "s3cr3t-table-arn:aws:dynamodb:us-east-1:123456789012:table/internal-Posts"


@pytest.fixture
def broken_dynamodb(aws, monkeypatch) -> Callable[[str, Exception], None]:
    """Make one operation of the repository's (cached) boto3 client raise the given exception."""
    from apikit.repositories import dynamodb

    client = dynamodb()

    def break_operation(operation: str, error: Exception) -> None:
        def fail(**_: Any) -> Any:
            raise error

        monkeypatch.setattr(client, operation, fail)

    return break_operation


def assert_generic_500(result: Result) -> None:
    body = assert_problem(result, 500)
    assert body["detail"] == "An unexpected error occurred."
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    assert SECRET not in result.body
    assert all(SECRET not in value for value in result.headers.values())
    assert "Traceback" not in result.body


SCENARIOS: dict[str, tuple[str, str, Callable[[str], dict[str, Any]]]] = {
    "list": ("query", "posts_list", lambda _: load_event("posts_list/get.json", query={})),
    "get": ("get_item", "posts_get", lambda pid: post_event("posts_get/get.json", pid)),
    "create": (
        "put_item",
        "posts_create",
        lambda _: load_event("posts_create/post.json", headers={"authorization": bearer("alice")}),
    ),
    "put": (
        "update_item",
        "posts_replace",
        lambda pid: post_event("posts_replace/put.json", pid, headers={"authorization": bearer("alice")}),
    ),
    "patch": (
        "update_item",
        "posts_patch",
        lambda pid: post_event("posts_patch/patch.json", pid, headers={"authorization": bearer("alice")}),
    ),
    "delete": (
        "delete_item",
        "posts_delete",
        lambda pid: post_event("posts_delete/delete.json", pid, headers={"authorization": bearer("alice")}),
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_an_unexpected_exception_is_a_500_that_leaks_nothing(create_post, broken_dynamodb, scenario):
    operation, function, make_event = SCENARIOS[scenario]
    post = create_post(author="alice")
    broken_dynamodb(operation, RuntimeError(SECRET))
    event = make_event(post["id"])

    result = invoke(function, event)

    assert_generic_500(result)
    assert result.headers["x-request-id"] == event["requestContext"]["requestId"]
    assert result.json()["instance"] == event["rawPath"]


# A throttle is no error of ours but "not now": a 503 with Retry-After (tests/unit/test_aws_faults.py).
@pytest.mark.parametrize("code", ["ValidationException", "AccessDenied", "ResourceNotFoundException"])
def test_a_dynamodb_error_other_than_a_failed_condition_or_a_throttle_is_a_500(create_post, broken_dynamodb, code):
    post = create_post(author="alice")
    error = ClientError({"Error": {"Code": code, "Message": SECRET}}, "UpdateItem")
    broken_dynamodb("update_item", error)

    result = invoke(
        "posts_patch", post_event("posts_patch/patch.json", post["id"], headers={"authorization": bearer("alice")})
    )

    assert_generic_500(result)


def test_a_head_that_fails_is_the_gets_500(create_post, broken_dynamodb):
    post = create_post()
    broken_dynamodb("get_item", RuntimeError(SECRET))

    result = invoke("posts_get", post_event("posts_get/head.json", post["id"]))

    assert_generic_500(result)  # as GET answers it; the gateway sends a HEAD no body


def test_any_route_that_raises_unexpectedly_answers_the_generic_500_and_logs_the_traceback(log_lines):
    """create_app's own handler, not a function's: every function built on apikit.app answers so."""
    from apikit.app import create_app, make_handler

    app = create_app()

    @app.get("/api/broken")
    def broken() -> dict[str, str]:
        raise RuntimeError(SECRET)

    event = load_event("health/get.json", path="/api/broken")
    response = make_handler(app)(event, LambdaContext("test-function", 512, 10))
    result = Result(
        response["statusCode"], {k.lower(): v for k, v in response["headers"].items()}, response["body"], [], response
    )

    assert_generic_500(result)
    assert result.json()["instance"] == "/api/broken"
    assert SECRET in log_lines.getvalue()
    assert "Traceback" in log_lines.getvalue()


def test_an_unavailable_secret_is_a_500_that_leaks_nothing(aws, monkeypatch):
    token = bearer("alice")  # well-formed, so that verifying it needs the public keys
    monkeypatch.setenv("JWT_PUBLIC_KEYS_ARN", "NoSuchSecret-" + SECRET)
    from apikit.config import get_settings

    get_settings.cache_clear()
    try:
        result = invoke("posts_create", load_event("posts_create/post.json", headers={"authorization": token}))
    finally:
        get_settings.cache_clear()

    assert_generic_500(result)


def test_an_errors_message_is_its_detail_by_default_its_status_phrase():
    """What a traceback or a log line shows for an ApiError that is not answered (e.g. outside a handler)."""
    assert (str(NotFound()), NotFound().detail) == ("Not Found", "Not Found")
    assert (str(Conflict("The post changed.")), Conflict("The post changed.").detail) == ("The post changed.",) * 2


def test_a_problem_body_is_compact_json_with_non_ascii_text_as_is(aws):
    """RFC 8259 JSON in UTF-8, no insignificant whitespace; the client's field name comes back unescaped."""
    body = {"title": "t", "content": "c", "café": "x"}
    event = load_event("posts_create/post.json", headers={"authorization": bearer("alice")}, body=body)

    result = invoke("posts_create", event)

    problem = assert_problem(result, 422)
    assert ["body", "café"] in [error["loc"] for error in problem["errors"]]
    assert result.body == json.dumps(problem, separators=(",", ":"), ensure_ascii=False)


# X-Request-Id: the API Gateway request id, on success and on every kind of failure.


def _cases() -> dict[str, Callable[[str], tuple[str, dict[str, Any], int]]]:
    def with_auth(user: str) -> dict[str, str]:
        return {"authorization": bearer(user)}

    return {
        "health 200": lambda _: ("health", load_event("health/get.json"), 200),
        "list 200": lambda _: ("posts_list", load_event("posts_list/get.json"), 200),
        "list HEAD 200": lambda _: ("posts_list", load_event("posts_list/head.json"), 200),
        "list 400": lambda _: ("posts_list", load_event("posts_list/get.json", query={"limit": "0"}), 400),
        "get 200": lambda p: ("posts_get", post_event("posts_get/get.json", p, headers={"if-none-match": None}), 200),
        "get 304": lambda p: ("posts_get", post_event("posts_get/get.json", p), 304),
        "get HEAD 200": lambda p: ("posts_get", post_event("posts_get/head.json", p), 200),
        "get 404": lambda _: ("posts_get", post_event("posts_get/get.json", "nope"), 404),
        "create 201": lambda _: ("posts_create", load_event("posts_create/post.json", headers=with_auth("a")), 201),
        "create 401": lambda _: ("posts_create", load_event("posts_create/post.json"), 401),
        "create 415": lambda _: (
            "posts_create",
            load_event("posts_create/post.json", headers={**with_auth("a"), "content-type": "text/plain"}),
            415,
        ),
        "create 422": lambda _: (
            "posts_create",
            load_event("posts_create/post.json", headers=with_auth("a"), body={}),
            422,
        ),
        "put 200": lambda p: (
            "posts_replace",
            post_event("posts_replace/put.json", p, headers=with_auth("alice")),
            200,
        ),
        "put 403": lambda p: ("posts_replace", post_event("posts_replace/put.json", p, headers=with_auth("bob")), 403),
        "patch 412": lambda p: (
            "posts_patch",
            post_event("posts_patch/patch.json", p, headers={**with_auth("alice"), "if-match": '"v9"'}),
            412,
        ),
        "delete 204": lambda p: (
            "posts_delete",
            post_event("posts_delete/delete.json", p, headers=with_auth("alice")),
            204,
        ),
        "catch-all 404": lambda _: ("not_found", load_event("not_found/unknown_path.json"), 404),
        "catch-all 405": lambda _: ("not_found", load_event("not_found/wrong_method.json"), 405),
        "catch-all OPTIONS 204": lambda _: (
            "not_found",
            load_event("not_found/wrong_method.json", method="OPTIONS"),
            204,
        ),
    }


CASES = _cases()


@pytest.mark.parametrize("case", CASES)
def test_every_response_carries_the_request_id(create_post, case):
    post = create_post(author="alice")
    function, event, status = CASES[case](post["id"])
    event["requestContext"]["requestId"] = f"req-{case.replace(' ', '-')}"

    result = invoke(function, event)

    assert result.status == status, result.body
    assert result.headers["x-request-id"] == f"req-{case.replace(' ', '-')}"


# Header names as documented: API Gateway passes the function's spelling on to HTTP/1.1 clients.

HEADER_NAMES = {
    "create 401": {"WWW-Authenticate", "Cache-Control", "X-Request-Id"},
    "catch-all 405": {"Allow", "Cache-Control", "X-Request-Id"},
    "get 200": {"ETag", "Cache-Control", "Vary", "X-Request-Id"},
}


@pytest.mark.parametrize("case", HEADER_NAMES)
def test_header_names_are_sent_in_their_documented_case(create_post, case):
    post = create_post(author="alice")
    function, event, status = CASES[case](post["id"])

    result = invoke(function, event)

    assert result.status == status, result.body
    assert HEADER_NAMES[case] | set(SECURITY_HEADERS) <= set(result.raw["headers"])


def test_two_requests_get_their_own_request_ids(aws):
    first, second = load_event("posts_list/get.json"), load_event("posts_list/get.json")

    ids = [invoke("posts_list", event).headers["x-request-id"] for event in (first, second)]

    assert ids == [first["requestContext"]["requestId"], second["requestContext"]["requestId"]]
    assert ids[0] != ids[1]


# Logs: a line per request, never the bearer token or the body.


def test_logs_carry_the_request_but_not_the_token_or_the_body(aws, log_lines):
    authorization = bearer("alice")
    token = authorization.split(" ", 1)[1]
    event = load_event(
        "posts_create/post.json",
        headers={"authorization": authorization},
        body={"title": "Log me not", "content": "private-content-7f3a"},
    )

    result = invoke("posts_create", event)
    logs = log_lines.getvalue()

    assert result.status == 201
    records = [json.loads(line) for line in logs.splitlines()]
    request_line = next(record for record in records if record["message"] == "request")
    assert request_line["correlation_id"] == event["requestContext"]["requestId"]
    assert request_line["status"] == 201
    assert token not in logs
    assert token.split(".")[2] not in logs
    assert "private-content-7f3a" not in logs


def test_a_500_logs_the_exception_for_operators(create_post, broken_dynamodb, log_lines):
    post = create_post()
    broken_dynamodb("get_item", RuntimeError(SECRET))

    result = invoke("posts_get", post_event("posts_get/get.json", post["id"]))

    assert result.status == 500
    assert SECRET not in result.body
    assert SECRET in log_lines.getvalue()

"""apikit.validation.json_body, Next.js's `await request.json()`: any JSON document, refused with exactly the answers
a route declaring `body=Model` gives (415, 413, 400 and their details), since both read the body the same way."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from devserver.worker import LambdaContext
from tests.conftest import Result, assert_problem, bearer, invoke, load_event


@pytest.fixture(scope="module")
def echo_app() -> APIGatewayHttpResolver:
    """POST /api/echo answering `{"document": json_body(...)}`, in an app made here (see invoke_fresh_app)."""
    from apikit.app import create_app
    from apikit.validation import json_body

    app = create_app()

    @app.post("/api/echo")
    def echo() -> dict[str, Any]:
        return {"document": json_body(app.current_event)}

    @app.patch("/api/echo")
    def merge_patch() -> dict[str, Any]:
        return {"document": json_body(app.current_event, ("application/merge-patch+json",))}

    return app


def echo(app: APIGatewayHttpResolver, body: Any, headers: dict[str, str | None] | None = None, **changes) -> Result:
    from apikit.app import make_handler

    method = changes.pop("method", "POST")
    event = load_event("posts_create/post.json", headers={"authorization": None, **(headers or {})}, body=body)
    event.update(rawPath="/api/echo", routeKey=f"{method} /api/echo", **changes)
    event["requestContext"]["http"].update(method=method, path="/api/echo")
    return Result.of(make_handler(app)(event, LambdaContext("echo", 512, 10)))


def create_post(body: Any, headers: dict[str, str | None] | None = None, **changes) -> Result:
    """The same body sent to POST /api/posts, whose `@route(body=PostInput)` reads it with parse_body."""
    headers = {"authorization": bearer("alice"), **(headers or {})}
    return invoke("posts_create", load_event("posts_create/post.json", headers=headers, body=body, **changes))


@pytest.mark.parametrize(
    "document",
    [
        {"title": "Hello", "tags": ["a", "b"], "meta": {"draft": True, "score": 1.5, "parent": None}},
        [1, "two", {"three": 3}],
        "text",
        42,
        -0.25,
        True,
        None,
        {"": ""},
        {"name": "São Paulo, 東京 😀"},
        {"n": 12345678901234567890},
    ],
    ids=repr,
)
def test_any_json_document_is_read_as_sent(echo_app, document):
    result = echo(echo_app, json.dumps(document))

    assert result.status == 200, result.body
    assert result.json() == {"document": document}


def test_an_integral_number_is_read_as_the_integer_it_is(echo_app):
    # As for a model's body: 7.0 and 7.34e6 are JSON Schema integers (see loads_json).
    assert echo(echo_app, '{"a": 7.0, "b": 7.34e6, "c": 0.5}').json() == {"document": {"a": 7, "b": 7340000, "c": 0.5}}


def test_a_base64_body_is_decoded(echo_app):
    raw = base64.b64encode(json.dumps({"x": "ü"}).encode()).decode()

    assert echo(echo_app, raw, isBase64Encoded=True).json() == {"document": {"x": "ü"}}


def test_a_utf16_body_is_read_as_json_reads_bytes(echo_app):
    raw = base64.b64encode('{"x": "ü"}'.encode("utf-16")).decode()

    assert echo(echo_app, raw, isBase64Encoded=True).json() == {"document": {"x": "ü"}}


def test_strings_keep_control_characters_since_no_model_reads_them(echo_app):
    # A model's fields refuse them (422); json_body checks only that the body is JSON within bounds.
    assert echo(echo_app, '{"x": "a\\u0000b\\tc"}').json() == {"document": {"x": "a\x00b\tc"}}


def test_other_media_types_are_allowed_when_named(echo_app):
    headers = {"content-type": "application/merge-patch+json"}

    assert echo(echo_app, '{"title": null}', headers, method="PATCH").json() == {"document": {"title": None}}
    body = assert_problem(echo(echo_app, '{"title": null}', method="PATCH"), 415)
    assert body["detail"] == "Content-Type must be application/merge-patch+json."


# The same refusals as parse_body: status and detail, compared with POST /api/posts's answer to the same request.

REFUSED = [
    pytest.param("not json", {}, {}, 400, "The request body is not valid JSON.", id="not-json"),
    pytest.param("", {}, {}, 400, "The request body is not valid JSON.", id="empty"),
    pytest.param('{"a": 1', {}, {}, 400, "The request body is not valid JSON.", id="truncated"),
    pytest.param("[" * 33 + "]" * 33, {}, {}, 400, "The request body is nested more than 32 levels deep.", id="deep"),
    pytest.param(
        "[" * 5000 + "]" * 5000, {}, {}, 400, "The request body is nested more than 32 levels deep.", id="deeper"
    ),
    pytest.param('{"n": 1e400}', {}, {}, 400, None, id="infinite-number"),
    pytest.param('{"n": ' + "1" * 21 + "}", {}, {}, 400, None, id="21-digits"),
    pytest.param("[NaN]", {}, {}, 400, None, id="nan"),
    pytest.param(
        '{"a": 1, "a": 2}', {}, {}, 400, "An object in the request body has the same key twice.", id="key-twice"
    ),
    pytest.param("{}", {"content-type": "text/plain"}, {}, 415, "Content-Type must be application/json.", id="text"),
    pytest.param("{}", {"content-type": None}, {}, 415, "Content-Type must be application/json.", id="no-type"),
    pytest.param("not base64!", {}, {"isBase64Encoded": True}, 400, "The request body is not valid base64.", id="b64"),
    pytest.param(base64.b64encode(b'{"x": "\xff"}').decode(), {}, {"isBase64Encoded": True}, 400, None, id="not-utf8"),
]


@pytest.mark.parametrize(("raw", "headers", "changes", "status", "detail"), REFUSED)
def test_a_refused_body_gets_parse_bodys_answer(aws, echo_app, raw, headers, changes, status, detail):
    result = echo(echo_app, raw, headers, **changes)

    body = assert_problem(result, status, "/api/echo")
    if detail is not None:
        assert body["detail"] == detail
    declared = assert_problem(create_post(raw, headers, **changes), status)
    assert body["detail"] == declared["detail"]
    assert "errors" not in body


@pytest.fixture
def body_limit(aws, monkeypatch) -> Iterator[int]:
    from apikit.config import get_settings

    monkeypatch.setenv("MAX_BODY_BYTES", "64")
    get_settings.cache_clear()
    yield 64
    get_settings.cache_clear()


def document_of_size(size: int) -> str:
    raw = json.dumps({"title": "t", "content": ""})
    return json.dumps({"title": "t", "content": "c" * (size - len(raw))})


def test_a_body_at_max_body_bytes_is_read(echo_app, body_limit):
    raw = document_of_size(body_limit)

    assert echo(echo_app, raw).json() == {"document": json.loads(raw)}


@pytest.mark.parametrize("encoded", [False, True], ids=["text", "base64"])
def test_a_body_over_max_body_bytes_is_413_counting_decoded_bytes(echo_app, body_limit, encoded):
    raw = document_of_size(body_limit + 1)
    if encoded:
        raw = base64.b64encode(raw.encode()).decode()

    body = assert_problem(echo(echo_app, raw, isBase64Encoded=encoded), 413)

    assert body["detail"] == f"The request body is larger than {body_limit} bytes."
    assert body == {**assert_problem(create_post(raw, isBase64Encoded=encoded), 413), "instance": "/api/echo"}


def test_a_wrong_media_type_is_415_before_the_size_is_counted(echo_app, body_limit):
    result = echo(echo_app, document_of_size(body_limit + 1), {"content-type": "text/plain"})

    assert_problem(result, 415)

"""Bodies of POST, PUT and PATCH: 400 malformed, 413 too large, 415 wrong media type, 422 invalid (with errors[])."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests import dynamodb_limits
from tests.conftest import Result, assert_problem, bearer, fetch_post, invoke, load_event, write_post

METHODS = ["POST", "PUT", "PATCH"]
VALID = {"title": "Valid title", "content": "Valid content"}


class Sender:
    """Sends a body to POST /api/posts or to PUT/PATCH of one existing post, always as its author."""

    def __init__(self, post: dict[str, Any]) -> None:
        self.post = post

    def __call__(
        self, method: str, body: Any = None, headers: dict[str, str | None] | None = None, **changes
    ) -> Result:
        headers = headers or {}
        if method == "POST":
            event = load_event(
                "posts_create/post.json", headers={"authorization": bearer("alice"), **headers}, body=body, **changes
            )
            return invoke("posts_create", event)
        return write_post(method, self.post["id"], user="alice", headers=headers, body=body, **changes)

    def assert_nothing_written(self) -> None:
        """The existing post is as created and no other post appeared."""
        stored = fetch_post(self.post["id"])
        assert stored.headers["etag"] == '"v1"'
        assert stored.json()["title"] == self.post["title"]
        listing = invoke("posts_list", load_event("posts_list/get.json", query={})).json()
        assert [item["id"] for item in listing["items"]] == [self.post["id"]]


@pytest.fixture
def send(create_post) -> Sender:
    return Sender(create_post(author="alice", title="Original", content="Original content"))


def assert_validation_error(result: Result, loc: list[Any], error_type: str) -> dict[str, Any]:
    """422 problem+json whose errors[] has an entry at `loc` of `error_type`; entries never echo the input."""
    body = assert_problem(result, 422)
    assert body["detail"] == "The request body is invalid."
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"loc", "msg", "type"}
        assert isinstance(error["msg"], str)
        assert error["msg"]
    assert {"loc": loc, "type": error_type} in [{"loc": e["loc"], "type": e["type"]} for e in body["errors"]]
    return body


def succeeded(method: str, result: Result) -> bool:
    return result.status == (201 if method == "POST" else 200)


# 422: the JSON is fine, the document is not.


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("missing", ["title", "content"])
def test_a_missing_field_is_422(send, method, missing):
    body = {key: value for key, value in VALID.items() if key != missing}

    result = send(method, body)

    assert_validation_error(result, ["body", missing], "missing")
    send.assert_nothing_written()


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_an_empty_object_is_422_with_both_fields_missing(send, method):
    body = assert_problem(send(method, {}), 422)

    assert sorted(error["loc"][-1] for error in body["errors"]) == ["content", "title"]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("field", ["colour", "author_id", "id", "version", "created_at"])
def test_an_unknown_or_read_only_field_is_422(send, method, field):
    result = send(method, {**VALID, field: "x"})

    assert_validation_error(result, ["body", field], "extra_forbidden")
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
def test_a_title_over_200_characters_is_422_and_not_echoed(send, method):
    title = "T" * 201

    result = send(method, {**VALID, "title": title})

    assert_validation_error(result, ["body", "title"], "string_too_long")
    assert title not in result.body
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
def test_content_over_20000_characters_is_422(send, method):
    result = send(method, {**VALID, "content": "c" * 20_001})

    assert_validation_error(result, ["body", "content"], "string_too_long")
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
def test_the_longest_title_and_content_are_accepted(send, method):
    # Characters, not bytes: 200 two-byte characters still fit.
    body = {"title": "é" * 200, "content": "c" * 20_000}

    result = send(method, body)

    assert succeeded(method, result), result.body
    assert result.json()["title"] == body["title"]
    assert len(result.json()["content"]) == 20_000


def test_the_largest_post_fits_in_a_dynamodb_item(send):
    """Four-byte characters at both limits: 80 KB, under DynamoDB's 400 KB an item (tests/dynamodb_limits.py
    checks every item written, as DynamoDB would and moto does not)."""
    from apikit.repositories import dynamodb

    body = {"title": "\N{GRINNING FACE}" * 200, "content": "\N{GRINNING FACE}" * 20_000}

    result = send("POST", body)

    assert result.status == 201, result.body
    item = dynamodb().get_item(TableName="PostsTable", Key={"id": {"S": result.json()["id"]}})["Item"]
    assert dynamodb_limits.item_bytes(item) < dynamodb_limits.MAX_ITEM_BYTES / 4


@pytest.mark.parametrize("method", METHODS)
def test_an_empty_title_is_422(send, method):
    result = send(method, {**VALID, "title": ""})

    assert_validation_error(result, ["body", "title"], "string_too_short")
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("field", "value"), [("title", 123), ("title", ["a"]), ("content", 4.5), ("content", True)])
def test_a_wrong_type_is_422_and_not_coerced(send, method, field, value):
    result = send(method, {**VALID, field: value})

    assert_validation_error(result, ["body", field], "string_type")
    send.assert_nothing_written()


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_null_for_a_required_field_is_422(send, method):
    result = send(method, {**VALID, "title": None})

    assert_validation_error(result, ["body", "title"], "string_type")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("document", [[], "a string", 42, None])
def test_a_document_that_is_not_an_object_is_422(send, method, document):
    result = send(method, json.dumps(document))

    body = assert_problem(result, 422)
    assert body["errors"][0]["loc"] == ["body"]
    send.assert_nothing_written()


@pytest.mark.parametrize("field", ["title", "content"])
def test_patch_with_null_is_422_because_a_post_field_cannot_be_removed(send, field):
    result = send("PATCH", {field: None})

    body = assert_validation_error(result, ["body", field], "value_error")
    assert "cannot be removed" in body["errors"][0]["msg"]
    send.assert_nothing_written()


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/json"])
def test_patch_accepts_both_merge_patch_and_plain_json(send, content_type):
    result = send("PATCH", {"content": "patched"}, headers={"content-type": content_type})

    assert result.status == 200, result.body
    assert result.json()["content"] == "patched"
    assert result.json()["title"] == "Original"


# 400: not JSON at all.


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("raw", ['{"title": "x", "content": ', "{'title': 'x'}", "not json", ""])
def test_malformed_json_is_400(send, method, raw):
    result = send(method, raw)

    body = assert_problem(result, 400)
    assert body["detail"] == "The request body is not valid JSON."
    assert "errors" not in body
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
def test_a_missing_body_is_400(send, method):
    event_body = None

    result = send(method, event_body)

    assert_problem(result, 400)
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
def test_a_body_that_is_not_utf8_is_400(send, method):
    raw = base64.b64encode(b'{"title": "\xc3\x28", "content": "x"}').decode()

    result = send(method, raw, isBase64Encoded=True)

    assert_problem(result, 400)
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("raw", ["not base64!", "eyJ0aXRsZSI6I", "e30=x"])
def test_invalid_base64_is_400(send, method, raw):
    result = send(method, raw, isBase64Encoded=True)

    body = assert_problem(result, 400)
    assert body["detail"] == "The request body is not valid base64."
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
def test_a_base64_encoded_body_is_decoded(send, method):
    raw = base64.b64encode(json.dumps({"title": "Encoded", "content": "ok"}).encode()).decode()

    result = send(method, raw, isBase64Encoded=True)

    assert succeeded(method, result), result.body
    assert result.json()["title"] == "Encoded"


# 415: the media type decides before the body is even read.


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded", "json"])
def test_a_missing_or_wrong_content_type_is_415(send, method, content_type):
    result = send(method, VALID, headers={"content-type": content_type})

    body = assert_problem(result, 415)
    assert "application/json" in body["detail"]
    send.assert_nothing_written()


def test_a_415_names_every_media_type_the_operation_takes(send):
    one = assert_problem(send("POST", VALID, headers={"content-type": "text/plain"}), 415)["detail"]
    two = assert_problem(send("PATCH", VALID, headers={"content-type": "text/plain"}), 415)["detail"]

    assert one == "Content-Type must be application/json."
    assert two == "Content-Type must be application/merge-patch+json or application/json."


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le"])
def test_a_lone_surrogate_in_the_bodys_bytes_is_a_422_on_its_field_not_a_400(send, encoding):
    """The bytes are read as json.loads reads them (surrogatepass), so the model names the string it cannot take."""
    raw = '{"title": "a\ud800b", "content": ""}'.encode(encoding, "surrogatepass")

    result = send("POST", base64.b64encode(raw).decode(), isBase64Encoded=True)

    body = assert_problem(result, 422)
    assert [(error["loc"], error["type"]) for error in body["errors"]] == [(["body", "title"], "string_unicode")]
    send.assert_nothing_written()


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_merge_patch_is_only_for_patch(send, method):
    result = send(method, VALID, headers={"content-type": "application/merge-patch+json"})

    assert_problem(result, 415)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_content_type_parameters_and_case_are_accepted(send, method, content_type):
    result = send(method, VALID, headers={"content-type": content_type})

    assert succeeded(method, result), result.body


# 413: MAX_BODY_BYTES, read through the cached settings.


@pytest.fixture
def body_limit(aws, monkeypatch) -> int:
    from apikit.config import get_settings

    limit = 64
    monkeypatch.setenv("MAX_BODY_BYTES", str(limit))
    get_settings.cache_clear()
    yield limit
    get_settings.cache_clear()


def body_of_size(size: int) -> str:
    skeleton = json.dumps({"title": "t", "content": ""})
    return json.dumps({"title": "t", "content": "c" * (size - len(skeleton))})


@pytest.mark.parametrize("method", METHODS)
def test_a_body_over_the_limit_is_413(send, body_limit, method):
    raw = body_of_size(body_limit + 1)

    result = send(method, raw)

    body = assert_problem(result, 413)
    assert body["detail"] == f"The request body is larger than {body_limit} bytes."
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
def test_a_body_at_the_limit_is_accepted(send, body_limit, method):
    raw = body_of_size(body_limit)
    assert len(raw.encode()) == body_limit

    result = send(method, raw)

    assert succeeded(method, result), result.body


def test_the_limit_counts_decoded_bytes_of_a_base64_body(send, body_limit):
    raw = base64.b64encode(body_of_size(body_limit + 1).encode()).decode()

    assert_problem(send("POST", raw, isBase64Encoded=True), 413)


# Order of checks: who you are first, then the media type, then the body.


def test_an_anonymous_invalid_body_is_401_not_422(aws):
    event = load_event("posts_create/post.json", headers={"authorization": None}, body={"title": ""})

    assert_problem(invoke("posts_create", event), 401)


def test_a_wrong_content_type_wins_over_a_malformed_body(send):
    assert_problem(send("POST", "not json", headers={"content-type": "text/plain"}), 415)


# 400: JSON that parses in Python but that this API refuses: bounded nesting and numbers, one value per key, and
# only JSON's own numbers (no NaN or Infinity). Each is answered before any model sees the document.


def nested(depth: int) -> str:
    """A body of `depth` nested arrays: depth 1 is `[]`."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("raw", [nested(100_000), nested(1_000), nested(33), '{"title": ' + nested(40) + "}"])
def test_json_nested_deeper_than_32_levels_is_400(send, method, raw):
    result = send(method, raw)

    body = assert_problem(result, 400)
    assert body["detail"] == "The request body is nested more than 32 levels deep."
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
def test_json_nested_32_levels_deep_is_parsed_and_then_validated(send, method):
    # 32 levels: the object, then the title's 31 arrays. The model refuses it, as for any wrong type.
    result = send(method, json.dumps({**VALID, "title": json.loads(nested(31))}))

    assert_validation_error(result, ["body", "title"], "string_type")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("number", ["1" * 5_000, "1" * 21, "-" + "9" * 21, "1" * 100 + ".5", "1e400", "-1e400"])
def test_a_number_too_large_for_the_api_is_400(send, method, number):
    result = send(method, f'{{"title": {number}, "content": "x"}}')

    body = assert_problem(result, 400)
    assert body["detail"] == (
        "A number in the request body is too large: integers have at most 20 digits, other numbers at most "
        "40 characters and a finite value."
    )
    assert number not in result.body
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("number", ["9" * 20, "-" + "9" * 20, "1.7976931348623157e308", "0.1", "0." + "0" * 37 + "1"])
def test_a_number_within_the_bounds_reaches_the_model(send, method, number):
    result = send(method, f'{{"title": {number}, "content": "x"}}')

    assert_validation_error(result, ["body", "title"], "string_type")


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        pytest.param("7.0", 7, id="integral-point"),
        pytest.param("-7.340032e6", -7_340_032, id="integral-exponent"),
        pytest.param("12345678901234567890.0", 12_345_678_901_234_567_890, id="20-digits-exactly"),
        pytest.param("1e20", 1e20, id="21-digits-stays-a-double"),
        pytest.param("-1e20", -1e20, id="21-digits-negative"),
        pytest.param("0.5", 0.5, id="fraction"),
    ],
)
def test_a_number_with_no_fractional_part_is_read_as_the_exact_integer_up_to_20_digits(literal, value):
    from apikit.validation import loads_json

    document = loads_json(f'{{"n": {literal}}}'.encode())

    assert document == {"n": value}
    assert type(document["n"]) is type(value)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "raw",
    [
        '{"title": "a", "content": "x", "title": "b"}',
        '{"title": "a", "content": "x", "content": "x"}',
        '{"title": "a", "content": "x", "extra": {"k": 1, "k": 2}}',
    ],
)
def test_a_repeated_key_is_400(send, method, raw):
    result = send(method, raw)

    body = assert_problem(result, 400)
    assert body["detail"] == "An object in the request body has the same key twice."
    send.assert_nothing_written()


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400_as_json_has_no_such_numbers(send, method, constant):
    result = send(method, f'{{"title": "a", "content": "x", "extra": {constant}}}')

    body = assert_problem(result, 400)
    assert body["detail"] == "The request body is not valid JSON: NaN, Infinity and -Infinity are not JSON numbers."
    send.assert_nothing_written()


@pytest.mark.parametrize(
    ("function", "sample"),
    [
        ("auth_login", "auth_login/post.json"),
        ("auth_signup", "auth_signup/post.json"),
        ("checkout", "checkout/post.json"),
    ],
)
def test_every_json_endpoint_refuses_deep_nesting_and_huge_numbers_with_400(aws, function, sample):
    for raw in (nested(100_000), '{"quantity": ' + "1" * 5_000 + "}"):
        event = load_event(sample, body=raw, headers={"authorization": bearer("alice")})

        assert_problem(invoke(function, event), 400)


@pytest.mark.parametrize(("number", "status"), [("7340032.0", 200), ("7.340032e6", 200), ("7340032.5", 422)])
def test_a_number_with_no_fractional_part_is_an_integer_as_json_schema_counts_it(aws, number, status):
    """JSON Schema's `integer` is any number whose fractional part is zero (draft 2020-12, section 6.1.1 of the
    validation spec), so a strict integer field takes 7340032.0 as the document promises (schemathesis sent it)."""
    raw = f'{{"filename": "report.pdf", "content_type": "application/pdf", "size": {number}}}'
    event = load_event("uploads_presign/post.json", headers={"authorization": bearer("alice")}, body=raw)

    result = invoke("uploads_presign", event)

    assert result.status == status, result.body

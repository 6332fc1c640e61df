"""Request parsing with pydantic v2: bodies give 400/413/415/422, query strings 400, paths 404, as problem+json."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import BaseModel, Field, ValidationError

from apikit.config import get_settings
from apikit.errors import BadRequest, NotFound, PayloadTooLarge, UnprocessableContent, UnsupportedMediaType


def validation_errors(error: ValidationError, prefix: str) -> list[dict[str, Any]]:
    # msg and type only: pydantic's `input` and `url` would echo the client's data back.
    return [
        {"loc": [prefix, *error_item["loc"]], "msg": error_item["msg"], "type": error_item["type"]}
        for error_item in error.errors(include_url=False, include_input=False)
    ]


def _media_type(event: APIGatewayProxyEventV2) -> str:
    return (event.headers.get("content-type") or "").split(";")[0].strip().lower()


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise BadRequest("The request body is not valid base64.") from error
    return body.encode()


def read_body(event: APIGatewayProxyEventV2, media_types: tuple[str, ...]) -> bytes:
    """The body's bytes, if its Content-Type is one of `media_types` (else 415). Its size is the caller's to bound."""
    if _media_type(event) not in media_types:
        raise UnsupportedMediaType(f"Content-Type must be {' or '.join(media_types)}.")
    return raw_body(event)


# What a request's JSON may hold, beyond JSON's own grammar. Python's parser would take more, and fail as a 500:
# nesting deep enough to exhaust the stack (RecursionError) and integers of over 4,300 digits (ValueError).
# 32 levels: the deepest body this API reads is 2 (an object of strings and numbers); 32 leaves room for any nested
# model to come, stays far below the interpreter's recursion limit (1,000), and makes the walk that checks it cheap.
MAX_JSON_DEPTH = 32
# 20 digits hold every 64-bit integer, signed or not (JavaScript is exact only to 16, DynamoDB to 38). Other numbers
# are doubles, which keep 17 significant digits: 40 characters leave room for sign, point and exponent.
MAX_INTEGER_DIGITS = 20
MAX_NUMBER_CHARACTERS = 40
_NUMBER_TOO_LARGE = (
    f"A number in the request body is too large: integers have at most {MAX_INTEGER_DIGITS} digits, other numbers at "
    f"most {MAX_NUMBER_CHARACTERS} characters and a finite value."
)


class _Refused(ValueError):
    """JSON the parser's hooks refuse: the message is the problem's detail (and never repeats the client's data)."""


def _integer(literal: str) -> int:
    if len(literal) - literal.startswith("-") > MAX_INTEGER_DIGITS:
        raise _Refused(_NUMBER_TOO_LARGE)
    return int(literal)


def _number(literal: str) -> float:
    value = float(literal) if len(literal) <= MAX_NUMBER_CHARACTERS else math.inf
    if not math.isfinite(value):  # 1e400 is a double's infinity
        raise _Refused(_NUMBER_TOO_LARGE)
    return value


def _constant(name: str) -> Any:
    raise _Refused("The request body is not valid JSON: NaN, Infinity and -Infinity are not JSON numbers.")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 section 4: names SHOULD be unique, and parsers differ on which value wins; this API refuses the doubt.
    document = dict(pairs)
    if len(document) != len(pairs):
        raise _Refused("An object in the request body has the same key twice.")
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (a scalar is 0, `[]` is 1), one level at a time."""
    level = [document] if isinstance(document, (dict, list)) else []
    for _ in range(limit):
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return bool(level)


# One decoder, built once: json.loads with hooks would build a decoder and its scanner on every call.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object, parse_int=_integer, parse_float=_number, parse_constant=_constant
)


def loads_json(data: bytes) -> Any:
    """The request body as JSON, within this API's bounds; 400 with the reason for anything else."""
    try:
        # As json.loads reads bytes: UTF-8, or UTF-16/32 told by the first bytes.
        document = _DECODER.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except _Refused as error:
        raise BadRequest(str(error)) from error
    except RecursionError as error:  # far deeper than the bound: the parser ran out of stack first
        raise _too_deep() from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest("The request body is not valid JSON.") from error
    if _deeper_than(document, MAX_JSON_DEPTH):
        raise _too_deep()
    return document


def _too_deep() -> BadRequest:
    return BadRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.")


def parse_body[Model: BaseModel](
    event: APIGatewayProxyEventV2, model: type[Model], media_types: tuple[str, ...] = ("application/json",)
) -> Model:
    data = read_body(event, media_types)
    if len(data) > get_settings().max_body_bytes:
        raise PayloadTooLarge(f"The request body is larger than {get_settings().max_body_bytes} bytes.")
    document = loads_json(data)
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise UnprocessableContent(validation_errors(error, "body")) from error


def parse_query[Model: BaseModel](event: APIGatewayProxyEventV2, model: type[Model]) -> Model:
    try:
        return model.model_validate(event.query_string_parameters or {})
    except ValidationError as error:
        raise BadRequest("The query string is invalid.", errors=validation_errors(error, "query")) from error


def parse_path[Model: BaseModel](parameters: dict[str, str], model: type[Model]) -> Model:
    try:
        return model.model_validate(parameters)
    except ValidationError as error:
        # A path that does not fit the model names no resource: 404, as for an id that does not exist.
        raise NotFound(getattr(model, "NOT_FOUND", "No resource has this path.")) from error


class PageQuery(BaseModel):
    """The query of every paginated list (posts, orders, uploads): newest first, `limit` at a time."""

    limit: int = Field(default=20, ge=1, le=100, description="Items per page.")
    cursor: str | None = Field(
        default=None, min_length=1, max_length=2048, description="`next_cursor` from the previous page."
    )

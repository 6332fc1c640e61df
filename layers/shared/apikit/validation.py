"""Request parsing with pydantic v2: bodies give 400/413/415/422, query strings 400, paths 404, as problem+json.

Without a model: `json_body` (any JSON document, with the same 400/413/415) and `query_first`/`query_all` (a query
parameter's values as sent, repeated ones apart), for a handler that reads a request as a Next.js route does.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import (
    BaseModel,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    JsonValue,
    ValidationError,
    create_model,
    field_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from apikit.config import get_settings
from apikit.errors import BadRequest, NotFound, PayloadTooLarge, UnprocessableContent, UnsupportedMediaType


def validation_errors(error: ValidationError, prefix: str) -> list[dict[str, Any]]:
    # loc, msg and type only: pydantic's `input`, `ctx` and `url` would echo the client's data back.
    return [
        {"loc": [prefix, *error_item["loc"]], "msg": error_item["msg"], "type": error_item["type"]}
        for error_item in error.errors()
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


def _number(literal: str) -> float | int:
    value = float(literal) if len(literal) <= MAX_NUMBER_CHARACTERS else math.inf
    if not math.isfinite(value):  # 1e400 is a double's infinity
        raise _Refused(_NUMBER_TOO_LARGE)
    # JSON Schema's `integer` is any number with a zero fractional part (1.0, 7.3e6): read as the integer it is, so
    # a strict integer field takes what the document's `integer` allows. Exactly (a double would round 17 digits).
    if value.is_integer() and abs(value) < 10**MAX_INTEGER_DIGITS:
        exact = decimal.Decimal(literal)
        if exact == exact.to_integral_value():
            return int(exact)
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


def loads_json(data: bytes, what: str = "The request body") -> Any:
    """`data` as JSON, within this API's bounds; 400 with the reason for anything else, naming `what` was read."""
    try:
        # As json.loads reads bytes: UTF-8, or UTF-16/32 told by the first bytes.
        document = _DECODER.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except _Refused as error:
        raise BadRequest(str(error)) from error
    except RecursionError as error:  # far deeper than the bound: the parser ran out of stack first
        raise _too_deep(what) from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest(f"{what} is not valid JSON.") from error
    if _deeper_than(document, MAX_JSON_DEPTH):
        raise _too_deep(what)
    return document


def _too_deep(what: str) -> BadRequest:
    return BadRequest(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep.")


# Text. Every string a request model reads (body, query) is refused control characters: Unicode's category Cc, C0
# (U+0000-U+001F), DEL and C1 (U+007F-U+009F). They have no place in a title, a name or an address, and a NUL or an
# escape sequence in stored text breaks what later reads or shows it. A field that needs some says so with
# AllowControl (post content keeps tabs and line breaks). The rule is applied in one place, around every model
# parse_body and parse_query validate (`checked`), so a new field cannot miss it; apikit.openapi documents it as
# each string's `pattern`. Patterns are spelled with \u escapes, never `\s` or `\p{..}`: Python's `re` and ECMA-262
# (JSON Schema's dialect, and JavaScript's) read them alike.
_CONTROL_CODES = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
# Spaces, for "only spaces" and for trimming: ASCII whitespace, the separators Python counts as space, Unicode's
# spaces, and the byte order mark a pasted value may start with.
_SPACE_RANGES = [(0x09, 0x0D), (0x1C, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A)]
_SPACE_RANGES += [(0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
SPACES = "".join(chr(code) for low, high in _SPACE_RANGES for code in range(low, high + 1))


def character_class(codes: typing.Iterable[int]) -> str:
    """The body of a regex character class matching these code points, as \\u ranges."""
    ranges: list[list[int]] = []
    for code in sorted(set(codes)):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(f"\\u{low:04x}" + (f"-\\u{high:04x}" if high > low else "") for low, high in ranges)


SPACE_CLASS = character_class(ord(space) for space in SPACES)
CONTROL_CLASS = character_class(_CONTROL_CODES)
NO_CONTROL_PATTERN = f"^[^{CONTROL_CLASS}]*$"
# Not only spaces: some character that is neither a space nor a control character.
NOT_BLANK_PATTERN = f"^[^{CONTROL_CLASS}]*[^{CONTROL_CLASS}{SPACE_CLASS}][^{CONTROL_CLASS}]*$"
_CONTROL = re.compile(f"[{CONTROL_CLASS}]")


@dataclass(frozen=True)
class AllowControl:
    """Annotated metadata: the control characters this string field may hold (every other string field, none)."""

    characters: str
    refused: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        codes = [code for code in _CONTROL_CODES if chr(code) not in self.characters]
        object.__setattr__(self, "refused", re.compile(f"[{character_class(codes)}]") if codes else None)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        json_schema: dict[str, Any] = handler(schema)
        if self.refused is None:
            json_schema.pop("pattern", None)
        else:
            json_schema["pattern"] = f"^[^{self.refused.pattern[1:-1]}]*$"
        return json_schema


MULTILINE = AllowControl("\t\n\r")  # tab, line feed, carriage return: text in lines and columns
ANY_CONTROL = AllowControl("".join(chr(code) for code in _CONTROL_CODES))  # compared as sent, never stored


@dataclass(frozen=True)
class _NotBlank:
    """Annotated metadata: the string must have a character that is not a space (nor a control character)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_not_blank, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        json_schema: dict[str, Any] = handler(schema)
        json_schema["pattern"] = NOT_BLANK_PATTERN
        return json_schema


def _not_blank(value: str) -> str:
    if not value.strip(SPACES):
        raise PydanticCustomError("string_blank", "String should have a character that is not a space")
    return value


NOT_BLANK = _NotBlank()


def _markers(annotation: Any) -> list[Any]:
    """The Annotated metadata anywhere in a field's type (`Content | None` holds Content's)."""
    found = list(getattr(annotation, "__metadata__", ()))
    for argument in typing.get_args(annotation):
        found += _markers(argument)
    return found


def _refused_characters(model: type[BaseModel]) -> dict[str, re.Pattern[str] | None]:
    refused: dict[str, re.Pattern[str] | None] = {}
    for name, info in model.model_fields.items():
        allowed = [m for m in [*info.metadata, *_markers(info.annotation)] if isinstance(m, AllowControl)]
        refused[name] = allowed[0].refused if allowed else _CONTROL
    return refused


_CHECKED: dict[type[BaseModel], type[BaseModel]] = {}


def validate_request[Model: BaseModel](model: type[Model], data: Any) -> Model:
    """`model.model_validate(data)` with the control-character rule on every field (see `checked`); the result is a
    `model`, as the handler declared it (a subclass's instance would not compare equal to one)."""
    validated = checked(model).model_validate(data)
    return model.model_construct(
        validated.model_fields_set, **validated.__dict__, **(validated.__pydantic_extra__ or {})
    )


def checked[Model: BaseModel](model: type[Model]) -> type[Model]:
    """`model` with the control-character rule on every field: a subclass, built once per model, with a `before`
    validator per field, so it sees the value as sent (before a field's own clean-up, e.g. a filename losing its
    control characters) and its errors join the model's own in one 422."""
    if model not in _CHECKED:
        validators = {
            f"_no_control_{name}": field_validator(name, mode="before")(_no_control_characters(pattern))
            for name, pattern in _refused_characters(model).items()
            if pattern is not None
        }
        _CHECKED[model] = create_model(model.__name__, __base__=model, __validators__=validators)
    return typing.cast(type[Model], _CHECKED[model])


def _no_control_characters(refused: re.Pattern[str]) -> typing.Callable[[Any], Any]:
    def check(value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and refused.search(text) for text in texts):
            raise PydanticCustomError("string_control_characters", "String should not contain control characters")
        return value

    return check


def json_body(event: APIGatewayProxyEventV2, media_types: tuple[str, ...] = ("application/json",)) -> JsonValue:
    """Any JSON document in the body, as Next.js's `await request.json()`, with `parse_body`'s checks in its order:
    415 for another Content-Type, 413 over MAX_BODY_BYTES (decoded bytes), 400 for what is not JSON or exceeds
    this API's bounds (nesting, numbers, a repeated key). No model reads it, so nothing else is checked: strings
    come as sent, control characters included. A route that knows the shape declares `body=Model` instead."""
    data = read_body(event, media_types)
    limit = get_settings().max_body_bytes
    if len(data) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return typing.cast(JsonValue, loads_json(data))


def parse_body[Model: BaseModel](
    event: APIGatewayProxyEventV2, model: type[Model], media_types: tuple[str, ...] = ("application/json",)
) -> Model:
    document = json_body(event, media_types)
    try:
        return validate_request(model, document)
    except ValidationError as error:
        raise UnprocessableContent(validation_errors(error, "body")) from error


def parse_query[Model: BaseModel](event: APIGatewayProxyEventV2, model: type[Model]) -> Model:
    try:
        return validate_request(model, event.query_string_parameters or {})
    except ValidationError as error:
        raise BadRequest("The query string is invalid.", errors=validation_errors(error, "query")) from error


def query_all(event: APIGatewayProxyEventV2, name: str) -> list[str]:
    """Every value of query parameter `name` in the order sent, `[]` when absent: Next.js's `searchParams.getAll`.

    Read from `rawQueryString`, not `queryStringParameters`: there API Gateway joins a repeated parameter's values
    with commas, so `?tag=a&tag=b` and `?tag=a,b` both arrive as "a,b" (payload format 2.0,
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
    Parsed as URLSearchParams parses it: `+` is a space, escapes are UTF-8 (U+FFFD where they are not), a
    parameter without `=` is "", names match exactly. Values are as sent: no model checks them (see `parse_query`).
    """
    pairs = parse_qsl(event.raw_event.get("rawQueryString") or "", keep_blank_values=True)
    return [value for key, value in pairs if key == name]


def query_first(event: APIGatewayProxyEventV2, name: str) -> str | None:
    """The first value of query parameter `name`, None when absent: Next.js's `searchParams.get` (see `query_all`)."""
    values = query_all(event, name)
    return values[0] if values else None


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

"""Request parsing with pydantic v2: bodies give 400/413/415/422, query strings 400, paths 404, as problem+json."""

from __future__ import annotations

import base64
import binascii
import json
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


def parse_body[Model: BaseModel](
    event: APIGatewayProxyEventV2, model: type[Model], media_types: tuple[str, ...] = ("application/json",)
) -> Model:
    data = read_body(event, media_types)
    if len(data) > get_settings().max_body_bytes:
        raise PayloadTooLarge(f"The request body is larger than {get_settings().max_body_bytes} bytes.")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadRequest("The request body is not valid JSON.") from error
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

"""Cursor pagination over a GSI partition, newest first: the one implementation every list endpoint uses.

A cursor is DynamoDB's LastEvaluatedKey, base64url-encoded JSON. It is opaque to clients but not trusted: a
key outside the queried partition, or with an empty string, makes DynamoDB answer ValidationException (a 500),
so such a cursor is refused here as a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, cast

from apikit.errors import BadRequest
from apikit.repositories import dynamodb


def opaque(text: str) -> str:
    """A cursor as clients see it: base64url without padding."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unopaque(cursor: str) -> str:
    """The text inside a cursor, or a 400 when it is not one of ours."""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, ValueError) as error:
        raise BadRequest("The cursor is invalid.") from error


def encode_cursor(key: dict[str, Any]) -> str:
    return opaque(json.dumps(key, separators=(",", ":")))


def decode_cursor(cursor: str, keys: set[str], partition: tuple[str, str]) -> dict[str, Any]:
    try:
        key: Any = json.loads(unopaque(cursor))
    except ValueError as error:
        raise BadRequest("The cursor is invalid.") from error
    valid = (
        isinstance(key, dict)
        and set(key) == keys
        and all(
            isinstance(value, dict)
            and set(value) == {"S"}
            and isinstance(value["S"], str)
            and 0 < len(value["S"].encode()) <= 1024  # DynamoDB's limit for a key attribute (a range key)
            for value in key.values()
        )
        and key[partition[0]]["S"] == partition[1]
    )
    if not valid:
        raise BadRequest("The cursor is invalid.")
    return cast(dict[str, Any], key)


def query_page(
    table: str, index: str, keys: set[str], partition: tuple[str, str], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `index`'s `partition`, newest first (the index's sort key), and the next page's cursor.

    `keys` are the attributes of the index's LastEvaluatedKey: the table's key plus the index's key.
    """
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": partition[0]},
        "ExpressionAttributeValues": {":pk": {"S": partition[1]}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if cursor is not None:
        query["ExclusiveStartKey"] = decode_cursor(cursor, keys, partition)
    result = dynamodb().query(**query)
    last_key = result.get("LastEvaluatedKey")
    return result.get("Items", []), encode_cursor(last_key) if last_key else None

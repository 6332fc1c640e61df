"""One repository per table. They share one boto3 DynamoDB client (apikit.aws), created on first use and then
reused for the life of the execution environment."""

from __future__ import annotations

import time
from typing import Any

from apikit.aws import cancellation_reasons, dynamodb, error_code, is_busy, not_now

__all__ = ["BATCH_GET_ATTEMPTS", "batch_get", "cancellation_reasons", "dynamodb", "error_code", "is_busy"]

BATCH_GET_ATTEMPTS = 4  # UnprocessedKeys (a throttled partition) read again after 50, 100, 200 ms, then a 503


def batch_get(table: str, keys: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    """The items of `keys` that exist, in one BatchGetItem (at most 100 keys, each once), in no particular order.

    `options` go with the table's request (a ProjectionExpression, say). Keys DynamoDB leaves unprocessed are read
    again after a backoff; still unprocessed after BATCH_GET_ATTEMPTS reads, the answer is a 503 (`not_now`).
    """
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {table: {"Keys": keys, **options}}
    for attempt in range(BATCH_GET_ATTEMPTS):
        if attempt:
            time.sleep(0.025 * 2**attempt)
        response = dynamodb().batch_get_item(RequestItems=request)
        found += response["Responses"].get(table, [])
        request = response.get("UnprocessedKeys") or {}
        if not request:
            return found
    raise not_now()

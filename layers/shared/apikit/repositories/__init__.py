"""One repository per table. They share one boto3 DynamoDB client, created on first use and then reused
for the life of the execution environment."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from apikit.errors import ServiceUnavailable

# DynamoDB's "not now", as opposed to "no": a throttle or a transaction conflict, as an error code or as the
# reason a transaction item was cancelled for. botocore has retried them already; nothing was decided.
_BUSY = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "ProvisionedThroughputExceeded",  # the CancellationReasons spellings
    "ThrottlingError",
    "TransactionConflict",
}
RETRY_AFTER_BUSY_SECONDS = 1


@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")


def error_code(error: ClientError) -> str | None:
    """The AWS error code of a failed call ("NoSuchKey", "ThrottlingException", ...), None if the answer had none."""
    code: str | None = error.response.get("Error", {}).get("Code")
    return code


def cancellation_reasons(error: ClientError) -> list[dict[str, Any]]:
    """Why each item of a cancelled TransactWriteItems failed, in the request's order (`Code` "None": it did not);
    empty for any other error. With ReturnValuesOnConditionCheckFailure, a failed item's `Item` too."""
    if error_code(error) != "TransactionCanceledException":
        return []
    return list(error.response.get("CancellationReasons") or [])


def is_busy(error: ClientError) -> bool:
    codes = {error_code(error)} | {r.get("Code") for r in cancellation_reasons(error)}
    return not codes.isdisjoint(_BUSY)


@contextmanager
def busy_is_unavailable() -> Iterator[None]:
    """A throttle or conflict answers 503 with Retry-After: the request was not refused, only not served now."""
    try:
        yield
    except ClientError as error:
        if not is_busy(error):
            raise
        raise ServiceUnavailable(
            "The service is busy; retry shortly.", headers={"Retry-After": str(RETRY_AFTER_BUSY_SECONDS)}
        ) from error

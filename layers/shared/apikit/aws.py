"""Every AWS client of the layer: one botocore configuration, no call started that cannot end in time, and which
AWS failures mean "not now" (503/504 problem+json, apikit.app) rather than a bug (500).

botocore's defaults (legacy retries, 60 s connect and read timeouts) let one unanswered call outlive a 10 s
function: Lambda kills it and API Gateway answers a bare 503 without a problem body or a log line of ours. Here an
attempt is sent only if its connect and read timeouts end before the invocation's deadline, with time left to
answer; make_handler sets the deadline from the context at the start of each invocation.
"""

from __future__ import annotations

import time
from collections import Counter
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from apikit.errors import ApiError, GatewayTimeout, ServiceUnavailable

# An attempt needs connect + read + margin = 2.5 s left: a function with SAM's default Timeout (3 s) still makes
# its calls, and a 10 s one gives a silent service three attempts at most.
CONNECT_TIMEOUT_SECONDS = 0.5  # within a region a connection takes milliseconds
READ_TIMEOUT_SECONDS = 1.5  # DynamoDB, S3 and Secrets Manager answer in tens of milliseconds
ANSWER_MARGIN_SECONDS = 0.5  # what an invocation keeps to log and answer after its last AWS call gave up
# Standard mode retries throttles, 5xx and connection errors with exponential backoff and jitter, at most
# 3 attempts in all: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
CONFIG = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    retries={"mode": "standard", "total_max_attempts": 3},
)

# "Not now", as opposed to "no": a throttle or a transaction conflict, as an error code or as the reason a
# transaction item was cancelled for (the CancellationReasons spellings), and the services' own faults. botocore
# has retried them already; nothing was decided, and the client may retry.
BUSY_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "ProvisionedThroughputExceeded",
        "ThrottlingError",
        "TransactionConflict",
        "InternalServerError",  # DynamoDB
        "InternalFailure",
        "InternalServiceError",  # Secrets Manager
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "SlowDown",  # S3
    }
)
RETRY_AFTER_SECONDS = 1

_deadline: float | None = None  # time.monotonic() at which Lambda ends this invocation


class DeadlineExceeded(BotoCoreError):  # type: ignore[misc]  # botocore has no type hints
    fmt = "No AWS call was sent: its timeouts would end after the function's own ({seconds_left:.2f} s left)"


def set_deadline(remaining_ms: int | None) -> None:
    """The invocation ends `remaining_ms` from now (the context's get_remaining_time_in_millis); None: never."""
    global _deadline
    _deadline = None if remaining_ms is None else time.monotonic() + remaining_ms / 1000


def _refuse_late_attempts(**_: Any) -> None:
    """botocore's before-send, once per attempt (retries included): an attempt that could still be waiting when
    Lambda ends the invocation is not sent. botocore does not retry the error this raises."""
    if _deadline is None:
        return
    seconds_left = _deadline - time.monotonic()
    if seconds_left < CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS + ANSWER_MARGIN_SECONDS:
        raise DeadlineExceeded(seconds_left=seconds_left)


# This invocation's AWS calls by "service.Operation" (retries not counted), for its request log line: what a
# request cost is then one CloudWatch Logs Insights query away. make_handler clears it between invocations.
calls: Counter[str] = Counter()


def _count_call(model: Any, **_: Any) -> None:
    calls[f"{model.service_model.endpoint_prefix}.{model.name}"] += 1


def client(service: str, config: Config | None = None) -> Any:
    """A boto3 client with CONFIG (merged with `config`) that sends no attempt it has no time for."""
    aws_client = boto3.client(service, config=CONFIG.merge(config) if config else CONFIG)
    aws_client.meta.events.register("before-send", _refuse_late_attempts)
    aws_client.meta.events.register("before-call", _count_call)
    return aws_client


@cache
def dynamodb() -> Any:
    """The one DynamoDB client of the execution environment, created on first use."""
    return client("dynamodb")


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
    return not codes.isdisjoint(BUSY_CODES)


def unavailable(error: BaseException) -> ApiError | None:
    """The answer for an AWS failure that says "not now" (its cause, for a wrapper such as Powertools'
    GetParameterError): 503 with Retry-After, or 504 when the service did not answer in time. None for any other
    error, a bug or a misconfiguration, which stays a 500."""
    while not isinstance(error, (ClientError, BotoCoreError)):
        if error.__cause__ is None:
            return None
        error = error.__cause__
    if isinstance(error, (ReadTimeoutError, DeadlineExceeded)):
        return GatewayTimeout("A service the API depends on did not answer in time; retry shortly.")
    busy = isinstance(error, ClientError) and is_busy(error)
    unreachable = isinstance(error, (ConnectTimeoutError, EndpointConnectionError, ConnectionClosedError))
    if not (busy or unreachable):
        return None
    return not_now()


def not_now() -> ServiceUnavailable:
    """503 with Retry-After: a service was busy or unreachable, or kept answering "not now" (UnprocessedKeys)."""
    return ServiceUnavailable(
        "A service the API depends on is busy or unreachable; retry shortly.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )

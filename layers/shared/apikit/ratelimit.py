"""Rate limits per client and route group, counted in DynamoDB: one atomic UpdateItem per request.

Configured in the template, never in code: `RATE_LIMIT` in a function's environment (`60/minute`, `10/15m`,
`off`; the default is in Globals) limits each client of that function (the route group, named by
`RATE_LIMIT_GROUP`, by default the function). `apikit.routes` counts every declared route before it runs:

- the client is the caller's user id on routes that authenticate, else the source IP API Gateway saw (an IPv6
  address by its /64, which one subscriber usually holds whole). Behind the optional CloudFront the API sees an
  edge address, so the viewer's, from `CloudFront-Viewer-Address`, is used, and trusted only when the request
  carries the origin token CloudFront adds (`CDN_ORIGIN_VERIFY`): anyone else can send that header too.
- A fixed window: `ADD hits :one` on the item `<group>#<client>#<window>` returns the new count in the same call,
  no read before the write, so concurrent requests never get past the limit inside one window. As with any fixed
  window, a client can use one window's allowance at its very end and the next one's at the start of the next:
  at most twice the limit in any span of one window length. Items expire by TTL.
- Over the limit: 429 problem+json with `Retry-After`. Every counted response carries the fields of
  draft-ietf-httpapi-ratelimit-headers-06: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
  (seconds) and `RateLimit-Policy` (`60;w=60`).
- When the table fails, the request is served, a warning logged and `RateLimitErrors` counted (fail open),
  unless `RATE_LIMIT_FAIL_CLOSED=true` (login and signup: their limits bound password guessing), then 503.

`enforce_per("email", address)` adds a second limit on a value from the body, from `RATE_LIMIT_PER_EMAIL`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import os
import re
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from apikit.errors import ServiceUnavailable, TooManyRequests
from apikit.logging import logger
from apikit.metrics import MetricUnit, metrics

_SPEC = re.compile(r"(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?")
_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_SECONDS |= {"d": 86400, "day": 86400}
_EXPIRY_SLACK_SECONDS = 60  # an item outlives its window a little: TTL deletes late anyway, never early
RETRY_AFTER_UNAVAILABLE_SECONDS = 5


@dataclass(frozen=True)
class Limit:
    requests: int
    window_seconds: int

    @property
    def policy(self) -> str:
        return f"{self.requests};w={self.window_seconds}"


@lru_cache(maxsize=32)  # read from the environment on every request: parsed once per value
def parse_limit(spec: str) -> Limit | None:
    """`60/minute`, `10/15m`, `1000/hour`, `5/30s`; `off` (or nothing) for no limit."""
    text = spec.strip().lower()
    if text in ("", "off"):
        return None
    match = _SPEC.fullmatch(text)
    limit = match and Limit(int(match.group(1)), int(match.group(2) or 1) * _SECONDS[match.group(3)])
    if not limit or limit.requests < 1 or limit.window_seconds < 1:
        raise ValueError(f"rate limit {spec!r}: expected '<requests>/<window>', e.g. 60/minute, 10/15m, or off")
    return limit


@dataclass(frozen=True)
class Decision:
    limit: Limit
    hits: int
    reset_seconds: int

    @property
    def allowed(self) -> bool:
        return self.hits <= self.limit.requests

    @property
    def remaining(self) -> int:
        return max(0, self.limit.requests - self.hits)

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit.requests),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": self.limit.policy,
        }


def count(key: str, limit: Limit, now: float | None = None) -> Decision:
    """One more request for `key` in the current window of `limit`: one UpdateItem, the new count returned."""
    from apikit.repositories import dynamodb  # boto3 loads at cold start only where something is counted

    moment = time.time() if now is None else now
    window_start = math.floor(moment) // limit.window_seconds * limit.window_seconds
    window_end = window_start + limit.window_seconds
    response = dynamodb().update_item(
        TableName=os.environ.get("RATE_LIMIT_TABLE", "rate-limits"),
        Key={"pk": {"S": f"{key}#{limit.window_seconds}#{window_start}"}},
        UpdateExpression="ADD hits :one SET expires_at = if_not_exists(expires_at, :expires)",
        ExpressionAttributeValues={":one": {"N": "1"}, ":expires": {"N": str(window_end + _EXPIRY_SLACK_SECONDS)}},
        ReturnValues="UPDATED_NEW",
    )
    return Decision(limit, int(response["Attributes"]["hits"]["N"]), max(1, math.ceil(window_end - moment)))


# This invocation's decisions, for the response headers; apikit.app.make_handler empties it on every invocation.
decisions: list[Decision] = []


def response_headers() -> dict[str, str]:
    """The fields of the tightest limit this request was counted against (none if it was not counted)."""
    if not decisions:
        return {}
    return min(decisions, key=lambda decision: (decision.remaining, -decision.reset_seconds)).headers()


def function_limit() -> Limit | None:
    """This function's `RATE_LIMIT` (None when off); apikit.openapi documents 429 from it too."""
    return parse_limit(os.environ.get("RATE_LIMIT", "off"))


def fails_closed() -> bool:
    """`RATE_LIMIT_FAIL_CLOSED=true`: without its counter the function answers 503 rather than serving."""
    return os.environ.get("RATE_LIMIT_FAIL_CLOSED", "").lower() == "true"


def _group() -> str:
    return os.environ.get("RATE_LIMIT_GROUP") or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "api")


def client_address(event: dict[str, Any]) -> str:
    """The caller's address: the viewer's behind our CloudFront, else API Gateway's source IP; IPv6 by /64."""
    headers = event.get("headers") or {}
    address = event.get("requestContext", {}).get("http", {}).get("sourceIp", "")
    token = os.environ.get("CDN_ORIGIN_VERIFY")
    sent = headers.get("x-origin-verify")
    vouched = bool(token and sent and hmac.compare_digest(sent.encode(), token.encode()))
    if vouched and headers.get("cloudfront-viewer-address"):
        # "198.51.100.10:46532" or "2001:db8::1:46532": the port is after the last colon, IPv6 has no brackets.
        address = headers["cloudfront-viewer-address"].rsplit(":", 1)[0]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def enforce(event: dict[str, Any], user_id: str | None) -> None:
    """Count this request against the function's `RATE_LIMIT`: 429 once the client is over it."""
    limit = function_limit()
    if limit is not None:
        client = f"user#{user_id}" if user_id else f"ip#{client_address(event)}"
        _enforce(f"{_group()}#{client}", limit)


def enforce_per(name: str, value: str) -> None:
    """Count this request against `RATE_LIMIT_PER_<NAME>` for `value` (stored hashed: the table holds no emails)."""
    limit = parse_limit(os.environ.get(f"RATE_LIMIT_PER_{name.upper()}", "off"))
    if limit is not None:
        digest = hashlib.sha256(value.encode()).hexdigest()
        _enforce(f"{_group()}#{name}#{digest}", limit)


def _enforce(key: str, limit: Limit) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        decision = count(key, limit)
    except (BotoCoreError, ClientError):
        metrics.add_metric(name="RateLimitErrors", unit=MetricUnit.Count, value=1)
        if fails_closed():
            logger.exception("rate limit counter unavailable; refusing the request (fail closed)")
            raise ServiceUnavailable(
                "Too many requests could not be ruled out; try again shortly.",
                headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)},
            ) from None
        logger.warning("rate limit counter unavailable; serving the request (fail open)", exc_info=True)
        return
    decisions.append(decision)
    if not decision.allowed:
        metrics.add_metric(name="RateLimited", unit=MetricUnit.Count, value=1)
        raise TooManyRequests(decision.reset_seconds, detail=f"{_limit_text(limit)} Try again later.")


def _limit_text(limit: Limit) -> str:
    return f"The limit is {limit.requests} requests per {limit.window_seconds} seconds."

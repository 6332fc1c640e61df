"""JSON and problem+json responses, and the entity tags used for caching and optimistic concurrency."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.shared.cookies import Cookie

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"


def _dumps(body: Any) -> str:
    # Duck-typed so that functions without models (health, not_found) never import pydantic (~70 ms cold).
    if hasattr(body, "model_dump_json"):
        return str(body.model_dump_json())
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def json_response(
    body: Any,
    status: int = HTTPStatus.OK,
    headers: dict[str, str] | None = None,
    cookies: list[Cookie] | None = None,
) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=_dumps(body), headers=headers, cookies=cookies)


def empty_response(status: int = HTTPStatus.NO_CONTENT, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(status_code=status, body="", headers=headers)


def problem_response(
    status: HTTPStatus,
    detail: str,
    instance: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[str]:
    """RFC 9457 problem details; `about:blank` means the status says it all."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": status.phrase,
        "status": int(status),
        "detail": detail,
        "instance": instance,
        **(extra or {}),
    }
    # Never cached, by a browser or by CloudFront (which would otherwise keep a 4xx for 10 s by default): no-store is
    # what apikit.app.make_handler puts on every answer without a Cache-Control of its own.
    return Response(status_code=status, content_type=PROBLEM_JSON, body=_dumps(body), headers=headers or {})

"""One declaration per route: the handler's path, methods, models, statuses and security, in one place.

`@route(app, ...)` registers the handler with the Powertools resolver and, from the same declaration,
authenticates the caller and validates the query string and body before the handler runs (400 for the query,
422 for the body, as problem+json). `make openapi` reads the declarations back (`DECLARED`) to write the
OpenAPI document, the catch-all's route table and the TypeScript types, so nothing is declared twice.

Powertools' own `enable_validation` would derive the same from type hints, but costs about 90 ms more at every
cold start; here the runtime does only what it did before, and the description is built at build time
(`apikit.openapi`). Nothing in this module imports pydantic: functions without models stay light.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from apikit import ratelimit
from apikit.errors import Unauthorized

if TYPE_CHECKING:
    from pydantic import BaseModel

Handler = Callable[..., Any]
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Security:
    """An OpenAPI security scheme; `BEARER_AUTH` is also enforced by `route` (the others are read by the handler)."""

    name: str
    scheme: dict[str, Any]


BEARER_AUTH = Security(
    "bearerAuth",
    {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The `access_token` from /api/auth/signup, /api/auth/login or /api/auth/refresh.",
    },
)
REFRESH_COOKIE_AUTH = Security(
    "refreshCookie",
    {
        "type": "apiKey",
        "in": "cookie",
        "name": "refresh_token",
        "description": "HttpOnly cookie set by signup, login and refresh (Path=/api/auth); rotated on every use.",
    },
)
STRIPE_SIGNATURE_AUTH = Security(
    "stripeSignature",
    {
        "type": "apiKey",
        "in": "header",
        "name": "Stripe-Signature",
        "description": "Stripe's HMAC-SHA256 signature over the raw request body, with a timestamp (300 s tolerance).",
    },
)


@dataclass(frozen=True)
class Route:
    """What `@route` declares; `apikit.openapi` turns it into OpenAPI operations."""

    methods: tuple[str, ...]
    path: str  # API Gateway / OpenAPI form: /api/posts/{id}
    summary: str
    operation_id: str
    description: str = ""
    status: int = HTTPStatus.OK
    response: type[BaseModel] | dict[str, Any] | None = None  # a model, or a JSON schema where pydantic is not loaded
    response_media_type: str = "application/json"
    response_headers: dict[str, str] = field(default_factory=dict)
    query: type[BaseModel] | None = None
    body: type[BaseModel] | dict[str, Any] | None = None  # a model (JSON), or the JSON schema of a body read as bytes
    body_media_types: tuple[str, ...] = ("application/json",)
    path_model: type[BaseModel] | None = None
    request_headers: dict[str, str] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    responses: dict[int, str] = field(default_factory=dict)  # other answers without a body, such as 304
    security: Security | None = None
    security_optional: bool = False  # the scheme may be left out: documented as `[{scheme: []}, {}]`
    tag: str = ""

    @property
    def path_parameters(self) -> list[str]:
        return _PATH_PARAMETER.findall(self.path)

    @property
    def error_statuses(self) -> list[int]:
        """Every status other than success the declaration implies, plus the ones it names."""
        implied = set(self.errors)
        if self.security is BEARER_AUTH:
            implied.add(HTTPStatus.UNAUTHORIZED)
        if self.query is not None:
            implied.add(HTTPStatus.BAD_REQUEST)
        if self.body is not None:
            implied |= {
                HTTPStatus.BAD_REQUEST,
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                HTTPStatus.UNPROCESSABLE_ENTITY,
            }
        return sorted(int(status) for status in implied)


# The routes this function declared, in order: read by `make openapi` (one function per process).
DECLARED: list[Route] = []


def route(
    app: APIGatewayHttpResolver | None,
    methods: str | tuple[str, ...],
    path: str,
    *,
    summary: str,
    status: int = HTTPStatus.OK,
    response: type[BaseModel] | dict[str, Any] | None = None,
    response_media_type: str = "application/json",
    response_headers: dict[str, str] | None = None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | dict[str, Any] | None = None,
    body_media_types: tuple[str, ...] = ("application/json",),
    path_model: type[BaseModel] | None = None,
    request_headers: dict[str, str] | None = None,
    errors: tuple[int, ...] = (),
    responses: dict[int, str] | None = None,
    security: Security | None = None,
    security_optional: bool = False,
    tag: str = "",
    operation_id: str = "",
) -> Callable[[Handler], Handler]:
    """Declare and register a route. The handler receives, by keyword, what the declaration asks for:

    `user` (the `Principal`) with `security=BEARER_AUTH`, `path` with `path_model` (else each path parameter by
    its name), `query` with `query`, `body` with `body`. Checks run in that order: 401 before 400 before 422.
    A `body` given as a JSON schema (a multipart form, say) is documented with it and checked only for its media
    type: the handler receives the bytes, and bounds and parses them itself.
    `security_optional`: the handler also answers without the credential (logout without its cookie, say); with
    `BEARER_AUTH`, `user` is then None, and a token that is sent is still checked (401 when invalid).
    Every route is also counted against its function's rate limit (`apikit.ratelimit`), after the 401 check.
    With `app=None` the route is only declared: for a handler without a resolver (see `ROUTE` in /api/hello).
    """
    method_list = (methods,) if isinstance(methods, str) else methods
    unknown = [method for method in method_list if method not in METHOD_ORDER]
    if unknown:
        raise ValueError(f"unsupported methods {unknown} for {path}")
    if "HEAD" in method_list:
        raise ValueError(f"{path}: HEAD is added to every GET route; declare GET only")
    if "GET" in method_list:
        # RFC 9110 section 9.3.2: HEAD is GET without the body, so every GET route serves it, from this one place.
        # The function answers HEAD as GET, body and all; the gateway sends the headers only, with the body's
        # Content-Length. template.yaml routes HEAD to the function too: an HTTP API's GET route does not match it.
        method_list = (*method_list, "HEAD")

    def decorate(handler: Handler) -> Handler:
        declared = Route(
            methods=tuple(sorted(method_list, key=METHOD_ORDER.index)),
            path=path,
            summary=summary,
            operation_id=operation_id or handler.__name__,  # the name clients and Swagger UI show
            description=(handler.__doc__ or "").strip(),
            status=int(status),
            response=response,
            response_media_type=response_media_type,
            response_headers=response_headers or {},
            query=query,
            body=body,
            body_media_types=body_media_types,
            path_model=path_model,
            request_headers=request_headers or {},
            errors=errors,
            responses=responses or {},
            security=security,
            security_optional=security_optional,
            tag=tag or path.split("/")[2],  # /api/posts/{id} is tagged `posts`
        )
        DECLARED.append(declared)
        if app is not None:
            app.route(_PATH_PARAMETER.sub(r"<\1>", path), method=list(declared.methods))(
                _validating(app, declared, handler)
            )
        return handler

    return decorate


def _validating(app: APIGatewayHttpResolver, declared: Route, handler: Handler) -> Handler:
    """The function Powertools calls: runs the declared checks, then the handler with what they produced."""
    if declared.query or declared.body or declared.path_model:
        # Imported here, at cold start, only by the functions that declare models (pydantic costs ~70 ms).
        from apikit.validation import parse_body, parse_path, parse_query, read_body
    if declared.security is BEARER_AUTH:
        from apikit.auth import require_user

    def run(**path_parameters: str) -> Any:
        event = app.current_event
        arguments: dict[str, Any] = {}
        if declared.security is BEARER_AUTH:
            arguments["user"] = None
            if not declared.security_optional or "authorization" in event.headers:
                try:
                    arguments["user"] = require_user(event)
                except Unauthorized:
                    ratelimit.enforce(event.raw_event, None)  # by address first: guessing tokens is limited too
                    raise
        ratelimit.enforce(event.raw_event, arguments["user"].user_id if arguments.get("user") else None)
        if declared.path_model is not None:
            arguments["path"] = parse_path(path_parameters, declared.path_model)
        else:
            arguments.update(path_parameters)
        if declared.query is not None:
            arguments["query"] = parse_query(event, declared.query)
        if isinstance(declared.body, dict):
            arguments["body"] = read_body(event, declared.body_media_types)
        elif declared.body is not None:
            arguments["body"] = parse_body(event, declared.body, declared.body_media_types)
        return handler(**arguments)

    return run

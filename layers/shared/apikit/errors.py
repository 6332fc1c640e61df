"""Every error a handler can raise carries its HTTP status; apikit.app maps them to problem+json in one place."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    status: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.status.phrase)
        self.detail = detail or self.status.phrase
        self.headers = headers or {}

    def extra(self) -> dict[str, Any]:
        """Members added to the problem body besides type/title/status/detail/instance."""
        return {}


class BadRequest(ApiError):
    status = HTTPStatus.BAD_REQUEST

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors

    def extra(self) -> dict[str, Any]:
        return {"errors": self.errors} if self.errors else {}


class Unauthorized(ApiError):
    status = HTTPStatus.UNAUTHORIZED

    def __init__(self, detail: str = "Authentication is required.", *, invalid_token: bool = False) -> None:
        # RFC 6750: say the token was bad, never which check failed.
        challenge = 'Bearer error="invalid_token"' if invalid_token else 'Bearer realm="api"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    status = HTTPStatus.FORBIDDEN


class NotFound(ApiError):
    status = HTTPStatus.NOT_FOUND


class MethodNotAllowed(ApiError):
    status = HTTPStatus.METHOD_NOT_ALLOWED

    def __init__(self, allowed: list[str]) -> None:
        super().__init__("The method is not allowed for this resource.", headers={"Allow": ", ".join(allowed)})


class NotAcceptable(ApiError):
    status = HTTPStatus.NOT_ACCEPTABLE


class Conflict(ApiError):
    status = HTTPStatus.CONFLICT


class PreconditionFailed(ApiError):
    status = HTTPStatus.PRECONDITION_FAILED


class PayloadTooLarge(ApiError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedMediaType(ApiError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class UnprocessableContent(ApiError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY

    def __init__(self, errors: list[dict[str, Any]], detail: str = "The request body is invalid.") -> None:
        super().__init__(detail)
        self.errors = errors

    def extra(self) -> dict[str, Any]:
        return {"errors": self.errors}


class TooManyRequests(ApiError):
    status = HTTPStatus.TOO_MANY_REQUESTS

    def __init__(self, retry_after_seconds: int, detail: str) -> None:
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after_seconds)


class ServiceUnavailable(ApiError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class BadGateway(ApiError):
    """An upstream service (Stripe, the weather API) answered with an error or nonsense."""

    status = HTTPStatus.BAD_GATEWAY


class GatewayTimeout(ApiError):
    """An upstream service did not answer in time."""

    status = HTTPStatus.GATEWAY_TIMEOUT

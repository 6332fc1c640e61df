"""Cookies: read from the v2 event's `cookies` list, set through the response's `cookies` list."""

from __future__ import annotations

from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2


def read_cookie(event: APIGatewayProxyEventV2, name: str) -> str | None:
    """The value of cookie `name`; API Gateway v2 moves the Cookie header into `cookies`, one `k=v` each."""
    for cookie in event.cookies or []:
        key, separator, value = cookie.strip().partition("=")
        if separator and key == name:
            return value
    return None


def session_cookie(name: str, value: str, path: str, max_age: int) -> Cookie:
    """A cookie scripts cannot read, sent only over HTTPS, only to `path`, and never cross-site."""
    return Cookie(name, value, path=path, secure=True, http_only=True, max_age=max_age, same_site=SameSite.STRICT_MODE)


def expired_cookie(name: str, path: str) -> Cookie:
    return session_cookie(name, "", path, max_age=0)

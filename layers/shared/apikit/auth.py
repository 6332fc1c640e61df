"""Bearer tokens: HS256 JWTs signed with the key in Secrets Manager (fetched once, then cached)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import jwt
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.config import get_settings
from apikit.errors import Unauthorized
from apikit.secrets import get_secret

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud"]


@dataclass(frozen=True)
class Principal:
    user_id: str


def signing_key() -> str:
    return get_secret("JWT_SECRET_ARN")


def issue_access_token(user_id: str, *, now: int | None = None, key: str | None = None) -> str:
    settings = get_settings()
    issued_at = int(time.time()) if now is None else now
    claims = {
        "sub": user_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued_at,
        "exp": issued_at + settings.access_token_ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key or signing_key(), algorithm=ALGORITHM)


@lru_cache(maxsize=1024)
def _verified(token: str, key: str, issuer: str, audience: str) -> tuple[str, int] | None:
    """(subject, expiry) of a token whose signature and claims check out, else None.

    Cached because a warm container sees the same token on a client's every request; the key is part of
    the cache key (a rotated key re-verifies) and expiry is re-checked on every use by the caller.
    """
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # pinned: no alg:none, no RS/HS confusion
            audience=audience,
            issuer=issuer,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError:
        return None
    subject, expiry = claims["sub"], claims["exp"]
    if not isinstance(subject, str) or not subject or not isinstance(expiry, int):
        return None
    return subject, expiry


def invalid_access_token() -> Unauthorized:
    # One answer for every failed check: a client learns nothing about which one failed.
    return Unauthorized("The access token is invalid or expired.", invalid_token=True)


def verify_access_token(token: str) -> Principal:
    settings = get_settings()
    verified = _verified(token, signing_key(), settings.jwt_issuer, settings.jwt_audience)
    if verified is None or verified[1] <= time.time():
        raise invalid_access_token()
    return Principal(user_id=verified[0])


def require_user(event: APIGatewayProxyEventV2) -> Principal:
    """The caller named by `Authorization: Bearer <jwt>`, or 401."""
    header = event.headers.get("authorization")
    if not header:
        raise Unauthorized()
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.", invalid_token=True)
    return verify_access_token(token.strip())

"""Bearer tokens: ES256 JWTs (RFC 9068 `at+jwt`) with a `kid`, signed only by the functions holding the private key.

Signup, login and refresh read `JwtSigningKey` (JWT_SIGNING_KEY_ARN) and sign; every other function reads only the
public keys (`JwtPublicKeys`, JWT_PUBLIC_KEYS_ARN) and cannot mint a token. Both come from Secrets Manager through
Powertools' cache; see apikit.keys for the formats and the rotation.

A token is accepted only if all of these hold: header `alg` ES256 and `typ` at+jwt, a `kid` in the published key
set, a valid signature, our `iss` and `aud`, `sub`, `iat`, `nbf` and `exp` present, `exp - iat` no more than the
configured lifetime, `nbf` reached (give or take NOT_BEFORE_LEEWAY_SECONDS of clock skew between functions) and
`exp` not reached (exactly: no leeway).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.config import get_settings
from apikit.errors import Unauthorized
from apikit.keys import ALGORITHM
from apikit.secrets import get_secret

TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068: an access token, not an ID token or anything else signed with the key
REQUIRED_CLAIMS = ["exp", "iat", "nbf", "sub", "iss", "aud"]
NOT_BEFORE_LEEWAY_SECONDS = 30
# An unknown `kid` refetches the key set (a rotation this container has not seen yet), at most this often, so
# tokens with made-up kids cannot make every request call Secrets Manager.
UNKNOWN_KID_REFRESH_SECONDS = 10.0
_last_refresh = 0.0


@dataclass(frozen=True)
class Principal:
    user_id: str


@lru_cache(maxsize=4)
def _private_key(signing_key: str) -> tuple[str, Any]:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    document = json.loads(signing_key)
    return document["kid"], load_pem_private_key(document["private_key"].encode(), password=None)


def issue_access_token(user_id: str, *, signing_key: str | None = None) -> str:
    """A token for `user_id`, signed with the current key (`signing_key`: a `JwtSigningKey` value, for tools)."""
    settings = get_settings()
    kid, key = _private_key(signing_key or get_secret("JWT_SIGNING_KEY_ARN"))
    issued_at = int(time.time())
    claims = {
        "sub": user_id,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + settings.access_token_ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": TOKEN_TYPE})


@lru_cache(maxsize=4)
def _key_set(document: str) -> dict[str, str]:
    """kid -> that key's JWK as JSON (hashable, so that verified tokens can be cached per key)."""
    keys = json.loads(document).get("keys", [])
    return {key["kid"]: json.dumps(key, sort_keys=True) for key in keys if isinstance(key, dict) and "kid" in key}


def _public_key(kid: str) -> str | None:
    global _last_refresh
    key = _key_set(get_secret("JWT_PUBLIC_KEYS_ARN")).get(kid)
    if key is None and time.monotonic() - _last_refresh >= UNKNOWN_KID_REFRESH_SECONDS:
        _last_refresh = time.monotonic()
        key = _key_set(get_secret("JWT_PUBLIC_KEYS_ARN", force_fetch=True)).get(kid)
    return key


@lru_cache(maxsize=1024)
def _verified(token: str, jwk: str, issuer: str, audience: str, max_lifetime: int) -> tuple[str, int] | None:
    """(subject, expiry) of a token whose signature and claims check out, else None.

    Cached because a warm container sees the same token on a client's every request; the key is part of the cache
    key (a retired key re-verifies, and fails) and expiry is re-checked on every use by the caller.
    """
    try:
        claims = jwt.decode(
            token,
            jwt.PyJWK(json.loads(jwk), algorithm=ALGORITHM).key,
            algorithms=[ALGORITHM],  # pinned: no alg:none, no HS256 signed with the public key
            audience=audience,
            issuer=issuer,
            leeway=NOT_BEFORE_LEEWAY_SECONDS,  # for nbf and iat; exp is checked exactly by the caller
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError:
        return None
    subject, issued, expiry = claims["sub"], claims["iat"], claims["exp"]
    if not isinstance(subject, str) or not subject or not isinstance(expiry, int) or not isinstance(issued, int):
        return None
    if expiry - issued > max_lifetime:
        return None  # longer-lived than any token we issue: not ours, or a key that leaked
    return subject, expiry


def invalid_access_token() -> Unauthorized:
    # One answer for every failed check: a client learns nothing about which one failed.
    return Unauthorized("The access token is invalid or expired.", invalid_token=True)


def verify_access_token(token: str) -> Principal:
    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise invalid_access_token() from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE or not isinstance(kid, str):
        raise invalid_access_token()
    jwk = _public_key(kid)
    verified = None
    if jwk is not None:
        lifetime = settings.access_token_ttl_seconds
        verified = _verified(token, jwk, settings.jwt_issuer, settings.jwt_audience, lifetime)
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

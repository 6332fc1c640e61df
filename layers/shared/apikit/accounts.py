"""Sign-up, login, refresh and logout: the steps between a validated request and the repositories."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Annotated, Literal, Self

from aws_lambda_powertools.event_handler import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from apikit import ratelimit
from apikit.auth import invalid_access_token, issue_access_token
from apikit.config import get_settings
from apikit.cookies import session_cookie
from apikit.errors import Unauthorized
from apikit.repositories import busy_is_unavailable
from apikit.repositories.sessions import SessionsRepository, invalid_refresh_token
from apikit.repositories.users import User, UsersRepository
from apikit.responses import json_response

REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/auth"
SET_REFRESH_COOKIE = {
    "Set-Cookie": f"{REFRESH_COOKIE}=...; Path={REFRESH_COOKIE_PATH}; HttpOnly; Secure; SameSite=Strict"
}
# Spaces a pasted address may come with, trimmed: ASCII whitespace, the separators Python counts as space, and
# Unicode's spaces. Spelled out, never `\s`: Python's and ECMA-262's `\s` (JSON Schema's dialect) differ.
_SPACE_RANGES = [(0x09, 0x0D), (0x1C, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A)]
_SPACE_RANGES += [(0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]
_SPACES = "".join(chr(code) for low, high in _SPACE_RANGES for code in range(low, high + 1))
_SPACE = "".join(f"\\u{low:04x}" + (f"-\\u{high:04x}" if high > low else "") for low, high in _SPACE_RANGES)
# Not in an address: @ (but the one), control characters (C0, DEL, C1) and spaces; no dot in the last label.
_PART = rf"[^@\u0000-\u0020\u007f-\u009f{_SPACE}]+"
_LAST_LABEL = rf"[^@.\u0000-\u0020\u007f-\u009f{_SPACE}]+"
_EMAIL = re.compile(rf"{_PART}@{_PART}\.{_LAST_LABEL}")
# The same rule for the document, on the value as sent: clients can check it, fuzzers generate to it. Documented
# only: pydantic validating it too would run a third regex engine and change the error message.
EMAIL_PATTERN = rf"^[{_SPACE}]*{_EMAIL.pattern}[{_SPACE}]*$"


def _normalise_email(value: str) -> str:
    email = value.strip(_SPACES).lower()
    if not _EMAIL.fullmatch(email):
        raise ValueError("not a valid email address")
    return email


Email = Annotated[
    str, Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN}), AfterValidator(_normalise_email)
]


class SignupRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"}]
        },
    )
    email: Email
    password: str = Field(min_length=12, max_length=128)
    name: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _password_is_not_the_email(self) -> Self:
        if self.password.strip().lower() == self.email:
            raise ValueError("the password must not be the email address")
        return self


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "correct horse battery"}]},
    )
    email: Email
    password: str = Field(min_length=1, max_length=128)  # bounded: hashing a megabyte would be a cheap DoS


class TokenResponse(BaseModel):
    """OAuth 2.0 field names (RFC 6749 section 5.1)."""

    # token_type has a default but is always sent: the response schema must say it is required.
    model_config = ConfigDict(
        json_schema_serialization_defaults_required=True,
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1YjBlN2MxZCJ9.c2lnbmF0dXJl",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "user": {
                        "id": "5b0e7c1d-2f3a-4b5c-8d9e-0a1b2c3d4e5f",
                        "email": "ada@example.com",
                        "name": "Ada",
                        "created_at": "2026-11-27T10:00:00.000000Z",
                    },
                }
            ]
        },
    )

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    user: User


users = UsersRepository()
sessions = SessionsRepository()


def _tokens(user: User) -> tuple[TokenResponse, str]:
    session = sessions.start(user.id)
    return _response(user), session.refresh_token


def _response(user: User) -> TokenResponse:
    return TokenResponse(
        access_token=issue_access_token(user.id), expires_in=get_settings().access_token_ttl_seconds, user=user
    )


def signup(request: SignupRequest) -> tuple[TokenResponse, str]:
    from apikit.passwords import hash_password  # argon2 loads only in the functions that hash

    ratelimit.enforce_per("email", request.email)  # before the hashing it bounds
    user = users.create(request.email, request.name, hash_password(request.password))
    return _tokens(user)


def login(request: LoginRequest) -> tuple[TokenResponse, str]:
    from apikit.passwords import hash_password, needs_rehash, verify_password

    ratelimit.enforce_per("email", request.email)  # guesses at one account, from however many addresses
    wrong = Unauthorized("The email or password is incorrect.")
    credentials = users.credentials(request.email)
    # Always one argon2 verify, so an unknown email takes as long as a wrong password.
    if not verify_password(credentials.password_hash if credentials else None, request.password) or not credentials:
        raise wrong
    if needs_rehash(credentials.password_hash):
        users.replace_hash(request.email, credentials.user_id, hash_password(request.password))
    user = users.get(credentials.user_id, consistent=True)  # just signed up: it must be seen
    if user is None:
        raise wrong
    return _tokens(user)


def refresh(refresh_token: str | None) -> tuple[TokenResponse, str]:
    if not refresh_token:
        raise Unauthorized("A refresh token cookie is required.")
    with busy_is_unavailable():  # a throttle is a 503 to retry (inside the grace window), never a logout
        session = sessions.rotate(refresh_token)
        user = users.get(session.user_id, consistent=True)
    if user is None:
        raise invalid_refresh_token()
    return _response(user), session.refresh_token


def logout(refresh_token: str | None) -> None:
    if refresh_token:
        sessions.revoke(refresh_token)


def current_user(user_id: str) -> User:
    user = users.get(user_id)
    if user is None:
        raise invalid_access_token()
    return user


def token_response(tokens: TokenResponse, refresh_token: str, status: int = HTTPStatus.OK) -> Response[str]:
    """Tokens in the body, the refresh token only in its HttpOnly cookie; never cached (RFC 6749 section 5.1)."""
    cookie = session_cookie(
        REFRESH_COOKIE, refresh_token, REFRESH_COOKIE_PATH, get_settings().refresh_token_ttl_seconds
    )
    return json_response(tokens, status, headers={"Cache-Control": "no-store"}, cookies=[cookie])

"""Sign-up, login, refresh and logout: the steps between a validated request and the repositories."""

from __future__ import annotations

import re
import unicodedata
from http import HTTPStatus
from typing import Annotated, Literal, Self

from aws_lambda_powertools.event_handler import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from apikit import ratelimit
from apikit.auth import invalid_access_token, issue_access_token
from apikit.config import get_settings
from apikit.cookies import session_cookie
from apikit.errors import Unauthorized
from apikit.repositories.sessions import SessionsRepository, invalid_refresh_token
from apikit.repositories.users import User, UsersRepository
from apikit.responses import json_response
from apikit.validation import ANY_CONTROL, NOT_BLANK, SPACE_CLASS, SPACES, AllowControl

REFRESH_COOKIE = "refresh_token"
REFRESH_COOKIE_PATH = "/api/auth"
SET_REFRESH_COOKIE = {
    "Set-Cookie": f"{REFRESH_COOKIE}=...; Path={REFRESH_COOKIE_PATH}; HttpOnly; Secure; SameSite=Strict"
}
# An address is checked by email-validator (RFC 5321/5322 syntax, RFC 6531 for non-ASCII local parts, IDNA 2008 for
# the domain, special-use domains such as .test refused; never DNS: check_deliverability=False), after NFKC (so the
# full-width forms of an address are that address) and trimming pasted spaces. Stored and looked up as
#   local part lowercased (str.lower, as every account so far was stored: no case folding, so ß stays ß) @ domain as
#   IDNA maps it (lowercase, in Unicode: xn--bcher-kva.de and BÜCHER.de are both bücher.de).
# Lowercasing the local part: RFC 5321 lets a server treat Ada@ and ada@ as two mailboxes, but no common provider
# does, and two accounts that differ only in case are a spoofing tool; it also keeps existing accounts reachable.
# The document's pattern, on the value as sent, is the shape of what the validator accepts, spelled for both Python's
# and ECMA-262's regexes: a dot-atom local part, then host labels with a last one ending in a letter. Non-ASCII is
# any BMP character but spaces, controls, the invisible and bidirectional format characters (soft hyphen, zero
# widths, word joiner, LRM/RLM/ALM, embeddings, overrides, isolates, the Mongolian vowel separator), surrogates,
# private use and specials. The API checks the pattern too, so the document never refuses an address the API
# takes; a few it allows the validator still refuses (special-use domains, characters IDNA disallows in a domain):
# those are a 422 with the validator's reason. Local parts over 64 octets pass, as email-validator lets them by
# default (they are seen in the wild); the whole address is at most 254 characters.
_NON_ASCII = r"\u00a1-\u00ac\u00ae-\u061b\u061d-\u167f\u1681-\u180d\u180f-\u1fff\u2010-\u2027\u2030-\u205e"
_NON_ASCII += r"\u2070-\u2fff\u3001-\ud7ff\uf900-\ufefe\uff00-\uffef"
_ATEXT = rf"A-Za-z0-9!#$%&'*+/=?^_`{{|}}~\-{_NON_ASCII}"
_LABEL_TEXT = rf"A-Za-z0-9{_NON_ASCII}"
_LOCAL = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
_LABEL = rf"[{_LABEL_TEXT}](?:[{_LABEL_TEXT}\-]*[{_LABEL_TEXT}])?"
_TOP_LABEL = rf"(?:[{_LABEL_TEXT}][{_LABEL_TEXT}\-]*)?[A-Za-z{_NON_ASCII}]"
EMAIL_PATTERN = rf"^[{SPACE_CLASS}]*{_LOCAL}@(?:{_LABEL}\.)+{_TOP_LABEL}[{SPACE_CLASS}]*$"
_EMAIL = re.compile(EMAIL_PATTERN)


def _normalise_email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email  # ~20 ms to import: only where addresses are read

    address = unicodedata.normalize("NFKC", value).strip(SPACES)
    try:
        valid = validate_email(address, check_deliverability=False)
    except EmailNotValidError as error:
        # Its reason, less any parenthesised detail that would quote the address back.
        raise ValueError(re.sub(r" \(.*\)", "", str(error))) from None
    if not _EMAIL.fullmatch(value):
        raise ValueError("not an address of the documented pattern")
    return f"{valid.local_part.lower()}@{valid.domain}"


Email = Annotated[
    str,
    Field(max_length=254, json_schema_extra={"pattern": EMAIL_PATTERN}),
    AfterValidator(_normalise_email),
    # The control characters that are spaces (a tab, a line break) may come pasted around it, and are trimmed.
    AllowControl("".join(space for space in SPACES if unicodedata.category(space) == "Cc")),
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
    password: Annotated[str, Field(min_length=12, max_length=128), NOT_BLANK]
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
    # Bounded: hashing a megabyte would be a cheap DoS. Otherwise compared as sent: a login stores and shows nothing,
    # and refusing control characters or only spaces here would lock out accounts made before signup refused them.
    password: Annotated[str, Field(min_length=1, max_length=128), ANY_CONTROL]


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
    return _response(user), sessions.start(user.id)


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
    # A throttle is a 503 to retry (inside the grace window), never a logout: apikit.aws.unavailable.
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
    """Tokens in the body, the refresh token only in its HttpOnly cookie; never cached (RFC 6749 section 5.1):
    `Cache-Control: no-store` is what make_handler puts on every answer that does not opt in to caching."""
    cookie = session_cookie(
        REFRESH_COOKIE, refresh_token, REFRESH_COOKIE_PATH, get_settings().refresh_token_ttl_seconds
    )
    return json_response(tokens, status, cookies=[cookie])

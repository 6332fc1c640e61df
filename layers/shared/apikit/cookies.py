"""Cookies: read from the v2 event's `cookies` list, set through the response's `cookies` list.

Values are percent-encoded where they are not RFC 6265 cookie-octets, and decoded when read, as Next.js's
`cookies()` does (encodeURIComponent, decodeURIComponent), so any string survives the round trip.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote, unquote

from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

# RFC 6265 section 4.1.1: a cookie-octet is printable US-ASCII but for whitespace, DQUOTE, comma, semicolon and
# backslash. `%` is one, but is encoded too: read_cookie decodes, so a literal `%41` must not come back as `A`.
_SAFE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) not in '",;\\%')
# A cookie name is an RFC 9110 token; anything else (`=`, `;`, a space) would change what the browser parses.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Path and Domain values end at `;` and may hold no control character (RFC 6265 section 4.1.1, av-octet).
_ATTRIBUTE_VALUE = re.compile(r"[^\x00-\x1f\x7f;]*")


def read_cookie(event: APIGatewayProxyEventV2, name: str) -> str | None:
    """The value of cookie `name`, percent-decoded; API Gateway v2 moves the Cookie header into `cookies`, one `k=v`
    each. The first of that exact name wins. A value whose escapes are not UTF-8 was not encoded by set_cookie: it
    is returned as sent (the npm `cookie` package does the same; Next.js drops the cookie)."""
    for cookie in event.cookies or []:
        key, separator, value = cookie.strip().partition("=")
        if separator and key == name:
            try:
                return unquote(value, errors="strict")
            except UnicodeDecodeError:
                return value
    return None


def set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: datetime | None = None,
    path: str = "/",
    domain: str = "",
    http_only: bool = True,
    secure: bool = True,
    same_site: Literal["Strict", "Lax", "None"] | None = "Lax",
) -> Cookie:
    """Next.js's `cookies().set(name, value, options)`, for a response's `cookies` list.

    Defaults: `Path=/; HttpOnly; Secure; SameSite=Lax`, a session cookie (no Max-Age or Expires) for this host only
    (no Domain). Unlike Next.js, HttpOnly and Secure are on unless turned off: scripts cannot read the cookie, and
    it travels only over HTTPS (Chrome, Firefox and curl make an exception for localhost). `same_site=None` leaves
    the attribute out; `"None"` sends the cookie cross-site and needs Secure. `expires` must be timezone-aware.
    What a browser would silently drop or misread is a ValueError here.
    """
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"cookie name {name!r} is not an RFC 9110 token")
    for attribute, text in (("path", path), ("domain", domain)):
        if not _ATTRIBUTE_VALUE.fullmatch(text):
            raise ValueError(f"cookie {attribute} {text!r} holds a ';' or a control character")
    if same_site == "None" and not secure:
        raise ValueError("SameSite=None needs Secure: browsers refuse the cookie otherwise")
    if name.startswith(("__Secure-", "__Host-")) and not secure:
        raise ValueError(f"a {name.split('-')[0]}- cookie needs Secure: browsers refuse it otherwise")
    if name.startswith("__Host-") and (domain or path != "/"):
        raise ValueError("a __Host- cookie needs Path=/ and no Domain: browsers refuse it otherwise")
    if expires is not None:
        if expires.utcoffset() is None:
            raise ValueError("expires must be timezone-aware: the header states it in GMT")
        expires = expires.astimezone(UTC)  # Powertools writes the time as given and labels it GMT
    return Cookie(
        name,
        quote(value, safe=_SAFE),
        path=path,
        domain=domain,
        secure=secure,
        http_only=http_only,
        max_age=max_age,
        expires=expires,
        same_site=SameSite(same_site) if same_site else None,
    )


def session_cookie(name: str, value: str, path: str, max_age: int) -> Cookie:
    """A cookie scripts cannot read, sent only over HTTPS, only to `path`, and never cross-site."""
    return Cookie(name, value, path=path, secure=True, http_only=True, max_age=max_age, same_site=SameSite.STRICT_MODE)


def expired_cookie(name: str, path: str) -> Cookie:
    return session_cookie(name, "", path, max_age=0)

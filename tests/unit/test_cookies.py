"""apikit.cookies.set_cookie and read_cookie, Next.js's `cookies().set` and `cookies().get`: the Set-Cookie line a
browser receives, and any value coming back as it was set."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.cookies import read_cookie, session_cookie, set_cookie
from devserver.worker import LambdaContext
from tests.conftest import Result, load_event

# RFC 6265 section 4.1.1: what a cookie's value may hold unquoted.
COOKIE_OCTETS = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


def request(*cookies: str) -> APIGatewayProxyEventV2:
    """A request whose Cookie header held these `name=value` pairs (API Gateway moves them to `cookies`)."""
    event = load_event("posts_list/get.json")
    event.pop("cookies", None)
    if cookies:
        event["cookies"] = list(cookies)
    return APIGatewayProxyEventV2(event)


def sent_back(cookie: Any) -> str:
    """The `name=value` pair a browser sends back for this Set-Cookie line."""
    return str(cookie).split(";")[0]


# set_cookie: the Set-Cookie line.


def test_the_defaults_are_path_root_http_only_secure_and_lax():
    assert str(set_cookie("theme", "dark")) == "theme=dark; Path=/; HttpOnly; Secure; SameSite=Lax"


def test_each_option_is_an_attribute():
    cookie = set_cookie(
        "theme",
        "dark",
        max_age=3600,
        expires=datetime(2030, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))),
        path="/api/prefs",
        domain="example.com",
        same_site="Strict",
    )

    assert str(cookie) == (
        "theme=dark; Path=/api/prefs; Domain=example.com; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Max-Age=3600; "
        "HttpOnly; Secure; SameSite=Strict"
    )


def test_attributes_turn_off():
    cookie = set_cookie("theme", "dark", http_only=False, secure=False, same_site=None)

    assert str(cookie) == "theme=dark; Path=/"


def test_same_site_none_is_sent_with_secure():
    assert str(set_cookie("embed", "1", same_site="None")).endswith("; Secure; SameSite=None")


def test_max_age_zero_deletes_the_cookie():
    assert str(set_cookie("theme", "", max_age=0)) == "theme=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"


def test_session_cookie_is_unchanged():
    cookie = session_cookie("refresh_token", "a b", "/api/auth", 60)

    assert str(cookie) == "refresh_token=a b; Path=/api/auth; Max-Age=60; HttpOnly; Secure; SameSite=Strict"


VALUES = [
    "plain-value_1.2~",
    "with space",
    "a;b=c",  # a semicolon would end the value and start an attribute
    'say "hi", \\ok',
    "São Paulo 東京 😀",
    "100%",
    "%41",  # not `A` when read back
    "a+b",
    "tab\there\r\nnewline",
    "=leading=and=inner=",
    "",
]


@pytest.mark.parametrize("value", VALUES)
def test_a_value_is_sent_as_cookie_octets_and_read_back_as_set(value):
    pair = sent_back(set_cookie("name", value))

    name, _, sent = pair.partition("=")
    assert name == "name"
    assert COOKIE_OCTETS.fullmatch(sent), sent
    assert read_cookie(request("other=1", pair), "name") == value


def test_cookie_octets_other_than_percent_are_sent_as_they_are():
    value = "!#$&'()*+-./:<=>?@[]^_`{|}~AZaz09"

    assert sent_back(set_cookie("name", value)) == f"name={value}"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "a b"}, "not an RFC 9110 token"),
        ({"name": "a=b"}, "not an RFC 9110 token"),
        ({"name": ""}, "not an RFC 9110 token"),
        ({"path": "/; Domain=evil.example"}, "holds a ';'"),
        ({"domain": "example.com\r\nX: y"}, "holds a ';' or a control character"),
        ({"same_site": "None", "secure": False}, "SameSite=None needs Secure"),
        ({"name": "__Secure-id", "secure": False}, "__Secure- cookie needs Secure"),
        ({"name": "__Host-id", "secure": False}, "__Host- cookie needs Secure"),
        ({"name": "__Host-id", "path": "/api"}, "needs Path=/ and no Domain"),
        ({"name": "__Host-id", "domain": "example.com"}, "needs Path=/ and no Domain"),
        ({"expires": datetime(2030, 1, 1)}, "timezone-aware"),  # naive: the mistake under test
    ],
)
def test_what_a_browser_would_drop_or_misread_is_refused(arguments, message):
    options = {"name": "id", "value": "1", **arguments}

    with pytest.raises(ValueError, match=re.escape(message)):
        set_cookie(**options)


def test_prefixed_cookies_that_browsers_keep_are_built():
    assert str(set_cookie("__Host-id", "1")) == "__Host-id=1; Path=/; HttpOnly; Secure; SameSite=Lax"
    assert (
        str(set_cookie("__Secure-id", "1", path="/api")) == "__Secure-id=1; Path=/api; HttpOnly; Secure; SameSite=Lax"
    )


def test_a_handler_sends_it_as_a_set_cookie_line():
    from apikit.app import create_app, make_handler
    from apikit.responses import json_response

    app = create_app()

    @app.get("/api/prefs")
    def prefs() -> Any:
        return json_response({"ok": True}, cookies=[set_cookie("city", "São Paulo", max_age=60)])

    event = load_event("health/get.json", path="/api/prefs")
    event["routeKey"] = "GET /api/prefs"
    result = Result.of(make_handler(app)(event, LambdaContext("prefs", 512, 10)))

    assert result.cookies == ["city=S%C3%A3o%20Paulo; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"]


# read_cookie: decoding, and which cookie is meant.


@pytest.mark.parametrize(
    ("sent", "value"),
    [
        ("S%C3%A3o%20Paulo", "São Paulo"),
        ("a+b", "a+b"),  # decodeURIComponent's rule: `+` is not a space in a cookie
        ("a%2Bb%3Bc", "a+b;c"),
        ("100%", "100%"),  # not an escape: as sent
        ("%zz", "%zz"),
        ("%FF%FE", "%FF%FE"),  # escapes that are not UTF-8: not set_cookie's, so as sent
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_a_value_is_percent_decoded(sent, value):
    assert read_cookie(request(f"name={sent}"), "name") == value


@pytest.mark.parametrize(
    ("cookies", "value"),
    [
        (["theme=dark"], "dark"),
        (["a=1", " theme=dark "], "dark"),
        (["theme=first", "theme=second"], "first"),
        (["Theme=dark"], None),
        (["theme2=dark", "xtheme=dark"], None),
        (["theme"], None),
        ([], None),
    ],
)
def test_the_first_cookie_of_exactly_that_name_is_read(cookies, value):
    assert read_cookie(request(*cookies), "theme") == value


def test_an_expires_given_in_utc_is_written_as_given():
    cookie = set_cookie("t", "1", expires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))

    assert "; Expires=Wed, 02 Jan 2030 03:04:05 GMT;" in str(cookie)

"""CORS as a browser enforces it: pages served from other origins on 127.0.0.1 call the dev server with
`fetch(url, {credentials: "include"})`, and chromium decides what they may send and read, from the headers the
dev server adds for template.yaml's CorsConfiguration (the one allowed origin is passed as CorsAllowedOrigins).

https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.fakes.loopback import LoopbackHandler, LoopbackServer
from tests.integration.conftest import HIGH_LIMITS, ROOT, DevServer, token

PAGE = b"<!doctype html><title>front end</title>"
BLOCKED = "TypeError: Failed to fetch"  # all a page learns of a call CORS refused: no status, no headers, no body
EXPOSED = ["x-request-id", "ratelimit-remaining", "ratelimit-limit"]  # in CorsConfiguration's ExposeHeaders
NOT_EXPOSED = "x-content-type-options"  # on every response, not in ExposeHeaders

# What the page sees: the status, every header JavaScript may read (and `headers.get` of a few by name), the body;
# or the error fetch rejected with. Every call carries credentials (the refresh cookie, once there is one).
FETCH = """async ([url, init, names]) => {
    try {
        const res = await fetch(url, {credentials: "include", ...init});
        return {
            status: res.status,
            type: res.type,
            readable: Object.fromEntries(res.headers),
            get: Object.fromEntries(names.map((name) => [name, res.headers.get(name)])),
            body: await res.text(),
        };
    } catch (error) {
        return {error: `${error.name}: ${error.message}`};
    }
}"""


class FrontEnd(LoopbackHandler):
    """A front end's one page, whatever the path."""

    def respond(self, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


@pytest.fixture(scope="module")
def allowed() -> Iterator[LoopbackServer]:
    """The front end the API allows: its port is bound (and known) before the dev server starts."""
    with LoopbackServer(FrontEnd) as server:
        yield server


@pytest.fixture(scope="module")
def stranger() -> Iterator[LoopbackServer]:
    """Another origin on the same host, only its port differs: not in CorsAllowedOrigins."""
    with LoopbackServer(FrontEnd) as server:
        yield server


@pytest.fixture(scope="module")
def cors_api(tmp_path_factory: pytest.TempPathFactory, allowed: LoopbackServer) -> Iterator[DevServer]:
    """The real template.yaml, with the allowed front end as its only CorsAllowedOrigins (and high limits)."""
    flag, limits, *env_vars = HIGH_LIMITS
    assert flag == "--parameter-overrides"
    overrides = f"CorsAllowedOrigins={allowed.origin} {limits}"
    server = DevServer(
        ROOT / "template.yaml", tmp_path_factory.mktemp("cors") / "devserver.log", flag, overrides, *env_vars
    )
    yield server
    server.stop()


def open_page(browser: Browser, origin: str) -> Iterator[Page]:
    context = browser.new_context()  # its own cookie jar
    page = context.new_page()
    page.goto(f"{origin}/app")
    yield page
    context.close()


@pytest.fixture
def front_end(browser: Browser, allowed: LoopbackServer) -> Iterator[Page]:
    yield from open_page(browser, allowed.origin)


@pytest.fixture
def stranger_page(browser: Browser, stranger: LoopbackServer) -> Iterator[Page]:
    yield from open_page(browser, stranger.origin)


def call(page: Page, url: str, names: list[str] | None = None, **init: Any) -> dict[str, Any]:
    answer: dict[str, Any] = page.evaluate(FETCH, [url, init, names or []])
    return answer


def test_the_allowed_origin_reads_the_answer_and_only_the_exposed_headers(cors_api, front_end, allowed):
    # A signed-in front end's call: a private answer, so it carries the caller's rate-limit counts (a public one
    # leaves them out), and Authorization makes the browser send a preflight first.
    signed_in = {"Authorization": f"Bearer {token('cors-reader')}"}
    direct = cors_api.get("/api/orders", headers={"Origin": allowed.origin, **signed_in})
    assert direct.headers[NOT_EXPOSED] == "nosniff"  # sent: only CORS can hide it from the page
    assert all(name in direct.headers for name in EXPOSED), direct.headers

    answer = call(front_end, f"{cors_api.url}/api/orders", [*EXPOSED, NOT_EXPOSED], headers=signed_in)

    assert "error" not in answer, answer
    assert (answer["status"], answer["type"]) == (200, "cors")
    assert "items" in answer["body"]
    assert answer["get"]["x-request-id"]
    assert int(answer["get"]["ratelimit-limit"]) >= int(answer["get"]["ratelimit-remaining"]) >= 0
    assert answer["get"][NOT_EXPOSED] is None
    assert set(EXPOSED) <= set(answer["readable"])
    assert NOT_EXPOSED not in answer["readable"]


def test_another_origin_is_refused(cors_api, stranger_page, stranger, allowed):
    assert stranger.origin.rsplit(":", 1)[0] == allowed.origin.rsplit(":", 1)[0]  # the same host, another port

    answer = call(stranger_page, f"{cors_api.url}/api/posts")
    assert answer == {"error": BLOCKED}

    # The API did answer (a no-cors fetch gets an opaque answer, status 0, unreadable): the browser withheld it.
    opaque = call(stranger_page, f"{cors_api.url}/api/posts", mode="no-cors")
    assert (opaque["type"], opaque["status"], opaque["body"]) == ("opaque", 0, "")


def test_a_preflight_allows_the_template_s_headers_and_refuses_others(cors_api, front_end):
    refused = call(front_end, f"{cors_api.url}/api/posts", headers={"X-Custom-Thing": "1"})
    assert refused == {"error": BLOCKED}

    me = call(front_end, f"{cors_api.url}/api/auth/me", ["www-authenticate"], headers={"Authorization": "Bearer x"})
    assert "error" not in me, me
    assert me["status"] == 401
    assert me["get"]["www-authenticate"] is None  # not in ExposeHeaders: the status and body say it all
    assert '"status":401' in me["body"].replace(" ", "")


def test_a_credentialed_call_sends_and_clears_the_refresh_cookie(cors_api, front_end):
    api = cors_api.url
    account = {"email": f"cors-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery", "name": "C"}
    json_post: dict[str, Any] = {"method": "POST", "headers": {"Content-Type": "application/json"}}

    signup = call(front_end, f"{api}/api/auth/signup", body=json.dumps(account), **json_post)
    assert signup.get("status") == 201, signup
    assert [cookie["name"] for cookie in front_end.context.cookies(f"{api}/api/auth")] == ["refresh_token"]

    # The cookie goes along and the rotated tokens come back readable: Access-Control-Allow-Credentials is honoured.
    refreshed = call(front_end, f"{api}/api/auth/refresh", method="POST")
    assert refreshed.get("status") == 200, refreshed
    assert '"access_token"' in refreshed["body"]
    without_cookie = call(front_end, f"{api}/api/auth/refresh", method="POST", credentials="omit")
    assert without_cookie.get("status") == 401, without_cookie

    logout = call(front_end, f"{api}/api/auth/logout", method="POST")
    assert logout.get("status") == 204, logout
    assert front_end.context.cookies(f"{api}/api/auth") == []
    after = call(front_end, f"{api}/api/auth/refresh", method="POST")
    assert after.get("status") == 401, after


def test_an_answer_cached_without_an_origin_is_not_reused_for_the_front_end(cors_api, front_end):
    url = f"{cors_api.url}/api/posts?limit=7"
    tab = front_end.context.new_page()
    opened = tab.goto(url)  # the user opens the API's URL itself (same site as the front end): no Origin header
    assert opened is not None
    assert opened.status == 200

    answer = call(front_end, url)

    assert answer.get("status") == 200, answer

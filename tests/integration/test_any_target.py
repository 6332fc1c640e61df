"""The real template.yaml over HTTP, on every target: the dev server (by default), a deployed stack
(API_BASE_URL=https://...) and `sam local start-api` (API_TARGET=sam-local as well); see the README's "One suite,
three targets".

Safe on a shared stack: the tests sign up users of their own (fresh random addresses, never `devserver token`), delete
every post they create, log out every session they open, and read nothing they did not write but what every client
may read. The API has no route that deletes an account, so each run leaves its two users behind. Where `sam local`
answers differently from API Gateway, a test is marked not_on_sam_local with the difference (docs/sam-local.md).
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import requests

from tests.integration.conftest import Http, assert_problem

# An origin the stack allows: the template's default CorsAllowedOrigins, or API_CORS_ORIGIN (prod allows another).
ORIGIN = os.environ.get("API_CORS_ORIGIN", "http://localhost:5173")


def refresh_cookie(response: requests.Response) -> str:
    [cookie] = response.raw.headers.getlist("Set-Cookie")
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth"} <= {part.strip() for part in cookie.split(";")}
    return cookie.split(";", 1)[0]  # name=value, sent back by hand: requests keeps Secure cookies off http://


@dataclass(frozen=True)
class Account:
    """A user the test run signed up, with the session signup opened."""

    email: str
    password: str
    id: str
    bearer: dict[str, str]
    cookie: str


def signed_up(api: Http) -> Iterator[Account]:
    """A new user at a random address, logged out again at the end."""
    email, password = f"suite-{uuid.uuid4().hex}@example.com", secrets.token_urlsafe(24)
    created = api.request("POST", "/api/auth/signup", json={"email": email, "password": password, "name": "Suite"})
    assert created.status_code == 201, created.text
    body = created.json()
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    account = Account(email, password, body["user"]["id"], bearer, refresh_cookie(created))
    yield account
    api.request("POST", "/api/auth/logout", headers={"Cookie": account.cookie})


@pytest.fixture(scope="module")
def alice(api: Http) -> Iterator[Account]:
    yield from signed_up(api)


@pytest.fixture(scope="module")
def bob(api: Http) -> Iterator[Account]:
    yield from signed_up(api)


class Posts:
    """Creates posts, and deletes the ones still there when the test ends, whatever it asserted."""

    def __init__(self, api: Http) -> None:
        self.api = api
        self.created: list[tuple[str, dict[str, str]]] = []

    def create(
        self, bearer: dict[str, str], title: str = "A title", content: str = "Some content"
    ) -> requests.Response:
        created = self.api.request("POST", "/api/posts", json={"title": title, "content": content}, headers=bearer)
        assert created.status_code == 201, created.text
        self.created.append((created.headers["Location"], bearer))
        return created

    def delete_all(self) -> None:
        for location, bearer in self.created:
            self.api.request("DELETE", location, headers=bearer)  # 204, or 404 for the ones the test deleted


@pytest.fixture
def posts(api: Http) -> Iterator[Posts]:
    made = Posts(api)
    yield made
    made.delete_all()


# --- Public routes ------------------------------------------------------------------------------------------------


def test_health(api):
    response = api.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-Id"]


def test_hello(api):
    response = api.get("/api/hello")

    assert response.status_code == 200
    assert response.json() == {"message": "Hello"}
    assert response.headers["Cache-Control"] == "public, max-age=60, s-maxage=300, stale-while-revalidate=60"
    assert response.headers["X-Request-Id"]


def test_the_openapi_document_and_its_304(api):
    document = api.get("/api/openapi.json")

    assert document.status_code == 200
    assert document.headers["Content-Type"] == "application/json"
    assert document.json()["openapi"].startswith("3.1.")
    assert "/api/posts/{id}" in document.json()["paths"]
    again = api.get("/api/openapi.json", headers={"If-None-Match": document.headers["ETag"]})
    assert (again.status_code, again.content) == (304, b"")


def test_swagger_ui_and_every_file_it_loads(api):
    page = api.get("/api/docs")

    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    files = re.findall(r'(?:src|href)="(/api/docs/[^"]+)"', page.text)
    assert len(files) == 4
    for file in files:  # gzipped and base64-encoded by the function, decoded by the gateway
        answer = api.get(file)
        assert answer.status_code == 200, file
        assert answer.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert answer.content


# --- Posts: create, read, conditional requests, edit, delete ------------------------------------------------------


def test_posts_crud_round_trip(api, alice, bob, posts):
    created = posts.create(alice.bearer, "Hello", "First")
    location = created.headers["Location"]
    assert created.headers["ETag"] == '"v1"'

    fetched = api.get(location)
    assert fetched.status_code == 200
    assert fetched.json()["title"] == "Hello"
    assert fetched.json()["author_id"] == alice.id
    assert fetched.headers["X-Request-Id"]

    head = api.request("HEAD", location)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == '"v1"'

    assert api.get(location, headers={"If-None-Match": '"v1"'}).status_code == 304

    patched = api.request(
        "PATCH",
        location,
        json={"content": "Edited"},
        headers={**alice.bearer, "If-Match": '"v1"', "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200
    assert patched.json()["content"] == "Edited"
    assert patched.headers["ETag"] == '"v2"'

    stale = api.request(
        "PUT", location, json={"title": "X", "content": "Y"}, headers={**alice.bearer, "If-Match": '"v1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["Content-Type"] == "application/problem+json"

    assert api.request("DELETE", location, headers=bob.bearer).status_code == 403
    assert api.request("DELETE", location, headers=alice.bearer).status_code == 204
    gone = api.get(location)
    assert gone.status_code == 404
    assert gone.json()["status"] == 404


def test_list_pages_through_everything(api, alice, posts):
    ids = [posts.create(alice.bearer, f"p{n}", "").json()["id"] for n in range(5)]
    seen, cursor = [], None
    while True:
        params = {"author": alice.id, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/posts", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, each once
    assert api.get("/api/posts", params={"cursor": "garbage!"}).status_code == 400


def test_head_on_an_existing_post_sends_its_length(api, alice, posts):
    location = posts.create(alice.bearer, "Sized", "x" * 300).headers["Location"]

    got, head = api.get(location), api.request("HEAD", location)

    assert int(head.headers["Content-Length"]) == len(got.content) > 300
    assert head.content == b""


def test_a_patch_that_changes_nothing_keeps_the_version_and_etag(api, alice, posts):
    post = {"title": "Still", "content": "the same"}
    location = posts.create(alice.bearer, **post).headers["Location"]

    for patch in ({}, {"title": "Still"}, post):
        patched = api.request("PATCH", location, json=patch, headers=alice.bearer)
        assert patched.status_code == 200, patched.text
        assert patched.headers["ETag"] == '"v1"'
        assert patched.json()["updated_at"] == patched.json()["created_at"]

    assert (
        api.request("PUT", location, json=post, headers={**alice.bearer, "If-Match": '"v1"'}).headers["ETag"] == '"v1"'
    )
    assert api.request("PATCH", location, json={"title": "Moved"}, headers=alice.bearer).headers["ETag"] == '"v2"'


# HEAD: every GET route, with the GET's status and headers, Content-Length included, and no body.


@pytest.mark.parametrize(
    ("path", "signed_in"),
    [
        ("/api/health", False),
        ("/api/hello", False),
        ("/api/posts", False),
        ("/api/posts?limit=1", True),
        ("/api/openapi.json", False),
        ("/api/docs", False),
        ("/api/auth/me", False),
        ("/api/orders", True),
        ("/api/uploads", True),
        ("/api/weather", False),
    ],
)
def test_head_answers_every_get_route_with_the_gets_headers_and_no_body(api, alice, path, signed_in):
    headers = alice.bearer if signed_in else {}
    got = api.get(path, headers=headers)
    head = api.request("HEAD", path, headers=headers)

    assert head.status_code == got.status_code
    assert head.content == b""
    assert head.headers["Content-Length"] == got.headers["Content-Length"]
    assert head.headers.get("Content-Encoding") == got.headers.get("Content-Encoding")
    if "Content-Encoding" not in got.headers:  # else requests has decoded the body: its length is not the sent one
        assert got.headers["Content-Length"] == str(len(got.content))
    assert head.headers["Content-Type"] == got.headers["Content-Type"]
    assert head.headers.get("ETag") == got.headers.get("ETag")


# --- The catch-all: 404, 405 and Allow ----------------------------------------------------------------------------


def test_unknown_path_is_404_and_wrong_method_is_405(api):
    unknown = api.get("/api/nope")
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"] == "application/problem+json"

    wrong = api.request("DELETE", "/api/posts")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, HEAD, POST, OPTIONS"


@pytest.mark.not_on_sam_local("no-route")
def test_a_path_outside_api_is_api_gateways_own_404(api):
    assert api.get("/not-under-api").json() == {"message": "Not Found"}


# API Gateway decodes the path before it routes, so %2F separates segments like /.


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_an_encoded_slash_in_a_post_id_is_a_404_from_the_catch_all(api, method):
    response = api.request(method, "/api/posts/a%2Fb")

    body = assert_problem(response, 404)
    assert body["detail"] == "No route matches this path."
    assert "Allow" not in response.headers


# --- CORS: API Gateway answers preflights from the HttpApi's CorsConfiguration --------------------------------------


def test_cors_preflight_and_simple_request(api):
    preflight = api.request(
        "OPTIONS",
        "/api/posts/123",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "if-match",
        },
    )
    assert preflight.ok
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"].split(",")
    assert "if-match" in preflight.headers["Access-Control-Allow-Headers"].split(",")
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    assert preflight.headers["Access-Control-Max-Age"] == "600"

    foreign = api.request(
        "OPTIONS", "/api/posts", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in foreign.headers

    simple = api.get("/api/health", headers={"Origin": ORIGIN})
    assert simple.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.not_on_sam_local("options")
def test_a_preflight_is_204_and_a_plain_options_reaches_the_catch_all(api):
    preflight = api.request(
        "OPTIONS", "/api/posts", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204

    plain_options = api.request("OPTIONS", "/api/posts")  # not a preflight: the catch-all lists the methods
    assert plain_options.status_code == 204
    assert plain_options.headers["Allow"] == "GET, HEAD, POST, OPTIONS"


@pytest.mark.not_on_sam_local("cors-headers")
def test_a_simple_request_exposes_the_request_id(api):
    simple = api.get("/api/health", headers={"Origin": ORIGIN})
    assert "x-request-id" in simple.headers["Access-Control-Expose-Headers"].split(",")


# --- Sessions: login, refresh, logout -----------------------------------------------------------------------------


def log_in(api: Http, account: Account) -> requests.Response:
    logged_in = api.request("POST", "/api/auth/login", json={"email": account.email, "password": account.password})
    assert logged_in.status_code == 200, logged_in.text
    return logged_in


def test_auth_flow_login_post_refresh_logout(api, alice, posts):
    logged_in = log_in(api, alice)
    access, cookie = logged_in.json()["access_token"], refresh_cookie(logged_in)
    assert logged_in.json()["user"]["id"] == alice.id

    first = posts.create({"Authorization": f"Bearer {access}"}, "From a session", "...")
    assert first.json()["author_id"] == alice.id

    refreshed = api.request("POST", "/api/auth/refresh", headers={"Cookie": cookie})
    assert refreshed.status_code == 200
    rotated = refresh_cookie(refreshed)
    assert rotated != cookie
    posts.create({"Authorization": f"Bearer {refreshed.json()['access_token']}"}, "From a session", "...")

    me = api.get("/api/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"})
    assert me.json()["email"] == alice.email

    logged_out = api.request("POST", "/api/auth/logout", headers={"Cookie": rotated})
    assert logged_out.status_code == 204
    assert "Max-Age=0" in logged_out.headers["Set-Cookie"]

    after = api.request("POST", "/api/auth/refresh", headers={"Cookie": rotated})
    assert after.status_code == 401
    assert after.headers["WWW-Authenticate"].startswith("Bearer")


def test_two_tabs_refreshing_at_once_share_one_new_session(api, alice):
    """Two requests with the same refresh cookie at once: both 200 with the same new cookie, the session alive."""
    cookie = refresh_cookie(log_in(api, alice))

    with ThreadPoolExecutor(2) as pool:
        tabs = list(pool.map(lambda _: api.request("POST", "/api/auth/refresh", headers={"Cookie": cookie}), "ab"))

    assert [tab.status_code for tab in tabs] == [200, 200]
    assert refresh_cookie(tabs[0]) == refresh_cookie(tabs[1]) != cookie
    later = api.request("POST", "/api/auth/refresh", headers={"Cookie": refresh_cookie(tabs[0])})
    assert later.status_code == 200
    assert api.request("POST", "/api/auth/logout", headers={"Cookie": refresh_cookie(later)}).status_code == 204

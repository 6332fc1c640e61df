"""The real template.yaml through the dev server: what a user sees with curl and a browser."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.integration.conftest import ROOT, token

ORIGIN = "http://localhost:5173"  # the template's default CorsAllowedOrigins


def test_posts_crud_round_trip(api):
    alice = {"Authorization": f"Bearer {token('alice')}"}
    bob = {"Authorization": f"Bearer {token('bob')}"}

    created = api.request("POST", "/api/posts", json={"title": "Hello", "content": "First"}, headers=alice)
    assert created.status_code == 201
    location = created.headers["Location"]
    assert created.headers["ETag"] == '"v1"'

    fetched = api.get(location)
    assert fetched.status_code == 200
    assert fetched.json()["title"] == "Hello"
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
        headers={**alice, "If-Match": '"v1"', "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200
    assert patched.json()["content"] == "Edited"
    assert patched.headers["ETag"] == '"v2"'

    stale = api.request("PUT", location, json={"title": "X", "content": "Y"}, headers={**alice, "If-Match": '"v1"'})
    assert stale.status_code == 412
    assert stale.headers["Content-Type"] == "application/problem+json"

    assert api.request("DELETE", location, headers=bob).status_code == 403
    assert api.request("DELETE", location, headers=alice).status_code == 204
    gone = api.get(location)
    assert gone.status_code == 404
    assert gone.json()["status"] == 404


def test_list_pages_through_everything(api):
    alice = {"Authorization": f"Bearer {token('pager')}"}
    ids = [
        api.request("POST", "/api/posts", json={"title": f"p{n}", "content": ""}, headers=alice).json()["id"]
        for n in range(5)
    ]
    seen, cursor = [], None
    while True:
        params = {"author": "pager", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/posts", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))  # newest first, each once
    assert api.get("/api/posts", params={"cursor": "garbage!"}).status_code == 400


def test_a_cursor_works_only_where_it_was_given_and_as_it_was_given(api):
    """Signed with the dev server's CursorKey (generated into secrets.local.json, as the template generates it)."""
    writer = {"Authorization": f"Bearer {token('cursor-writer')}"}
    posts = [
        api.request("POST", "/api/posts", json={"title": f"c{n}", "content": ""}, headers=writer).json()
        for n in range(3)
    ]
    cursor = api.get("/api/posts", params={"author": "cursor-writer", "limit": "1"}).json()["next_cursor"]
    assert api.get("/api/posts", params={"author": "cursor-writer", "limit": "1", "cursor": cursor}).status_code == 200

    tampered = cursor[:5] + ("A" if cursor[5] != "A" else "B") + cursor[6:]
    # The very key DynamoDB gives after the middle post, written by hand as the unsigned format allowed.
    key = {"id": posts[1]["id"], "author_id": "cursor-writer", "created_at": posts[1]["created_at"]}
    by_hand = base64.urlsafe_b64encode(json.dumps({name: {"S": value} for name, value in key.items()}).encode())
    for params in (
        {"author": "someone-else", "cursor": cursor},  # another author's list
        {"cursor": cursor},  # every author's list
        {"author": "cursor-writer", "cursor": tampered},
        {"author": "cursor-writer", "cursor": by_hand.decode().rstrip("=")},
    ):
        refused = api.get("/api/posts", params={"limit": "1", **params})
        assert refused.status_code == 400
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["detail"] == "The cursor is invalid."


def test_unknown_path_is_404_and_wrong_method_is_405(api):
    unknown = api.get("/api/nope")
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"] == "application/problem+json"

    wrong = api.request("DELETE", "/api/posts")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, HEAD, POST, OPTIONS"

    assert api.get("/not-under-api").json() == {"message": "Not Found"}  # API Gateway's own 404


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
    assert preflight.status_code == 204
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
    assert "x-request-id" in simple.headers["Access-Control-Expose-Headers"].split(",")

    plain_options = api.request("OPTIONS", "/api/posts")  # not a preflight: the catch-all lists the methods
    assert plain_options.status_code == 204
    assert plain_options.headers["Allow"] == "GET, HEAD, POST, OPTIONS"


def test_data_persists_across_restart_with_persist(start_server, tmp_path):
    data = tmp_path / "data"
    first = start_server(ROOT / "template.yaml", "--persist", str(data))
    created = first.request(
        "POST",
        "/api/posts",
        json={"title": "Kept", "content": "across restarts"},
        headers={"Authorization": f"Bearer {token('alice')}"},
    )
    assert created.status_code == 201
    bearer = {"Authorization": f"Bearer {token('alice')}"}
    stored = first.request("POST", "/api/uploads", files={"file": ("notes.txt", b"kept\n")}, headers=bearer).json()
    assert first.stop() == 0
    assert (data / "snapshot.json").exists()

    second = start_server(ROOT / "template.yaml", "--persist", str(data))
    fetched = second.get(created.headers["Location"])

    assert fetched.status_code == 200
    assert fetched.json()["title"] == "Kept"
    # An S3 object keeps what the function set on it, not only its bytes and type.
    (listed,) = second.get("/api/uploads", headers=bearer).json()["items"]
    assert listed["uploaded_at"] == stored["uploaded_at"]
    download = requests.get(listed["url"], timeout=10)
    assert download.content == b"kept\n"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="notes.txt"')


def _refresh_cookie(response) -> str:
    [cookie] = response.raw.headers.getlist("Set-Cookie")
    assert {"HttpOnly", "Secure", "SameSite=Strict", "Path=/api/auth"} <= {part.strip() for part in cookie.split(";")}
    return cookie.split(";", 1)[0]  # name=value, sent back by hand: requests keeps Secure cookies off http://


def test_auth_flow_signup_login_post_refresh_logout(api):
    account = {"email": "flow@example.com", "password": "a long enough password", "name": "Flow"}
    assert api.request("POST", "/api/auth/signup", json=account).status_code == 201

    logged_in = api.request(
        "POST", "/api/auth/login", json={"email": account["email"], "password": account["password"]}
    )
    assert logged_in.status_code == 200
    access, cookie = logged_in.json()["access_token"], _refresh_cookie(logged_in)

    post = {"title": "From a session", "content": "..."}
    first = api.request("POST", "/api/posts", json=post, headers={"Authorization": f"Bearer {access}"})
    assert first.status_code == 201
    assert first.json()["author_id"] == logged_in.json()["user"]["id"]

    refreshed = api.request("POST", "/api/auth/refresh", headers={"Cookie": cookie})
    assert refreshed.status_code == 200
    rotated = _refresh_cookie(refreshed)
    assert rotated != cookie
    second = api.request(
        "POST", "/api/posts", json=post, headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    )
    assert second.status_code == 201

    me = api.get("/api/auth/me", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"})
    assert me.json()["email"] == account["email"]

    logged_out = api.request("POST", "/api/auth/logout", headers={"Cookie": rotated})
    assert logged_out.status_code == 204
    assert "Max-Age=0" in logged_out.headers["Set-Cookie"]

    after = api.request("POST", "/api/auth/refresh", headers={"Cookie": rotated})
    assert after.status_code == 401
    assert after.headers["WWW-Authenticate"].startswith("Bearer")


def test_two_tabs_refreshing_at_once_share_one_new_session(api):
    """Two requests with the same refresh cookie at once: both 200 with the same new cookie, the session alive."""
    account = {"email": "tabs@example.com", "password": "a long enough password", "name": "Tabs"}
    cookie = _refresh_cookie(api.request("POST", "/api/auth/signup", json=account))

    with ThreadPoolExecutor(2) as pool:
        tabs = list(pool.map(lambda _: api.request("POST", "/api/auth/refresh", headers={"Cookie": cookie}), "ab"))

    assert [tab.status_code for tab in tabs] == [200, 200]
    assert _refresh_cookie(tabs[0]) == _refresh_cookie(tabs[1]) != cookie
    later = api.request("POST", "/api/auth/refresh", headers={"Cookie": _refresh_cookie(tabs[0])})
    assert later.status_code == 200

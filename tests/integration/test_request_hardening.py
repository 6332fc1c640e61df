"""The real template.yaml through the dev server, for what a client can send at the edges: JSON the parser must
bound, addresses and text with control characters, encoded slashes in paths, HEAD, and writes that change nothing.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import token

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == PROBLEM
    body: dict = response.json()
    assert body["status"] == status
    return body


# JSON bounds: every JSON endpoint answers 400 problem+json, never a 500.


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/signup", "/api/posts"])
def test_deeply_nested_json_is_a_400_not_a_500(api, path):
    raw = "[" * 100_000 + "]" * 100_000
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token('alice')}"}

    body = assert_problem(api.request("POST", path, data=raw, headers=headers), 400)

    assert body["detail"] == "The request body is nested more than 32 levels deep."


def test_an_integer_of_5000_digits_is_a_400_not_a_500(api):
    raw = '{"email": "ada@example.com", "password": ' + "1" * 5_000 + "}"

    body = assert_problem(
        api.request("POST", "/api/auth/login", data=raw, headers={"Content-Type": "application/json"}), 400
    )

    assert body["detail"].startswith("A number in the request body is too large")


@pytest.mark.parametrize(
    "raw",
    ['{"email": "a@example.com", "email": "b@example.com", "password": "x"}', '{"email": NaN, "password": "x"}'],
)
def test_repeated_keys_and_nan_are_400(api, raw):
    assert_problem(api.request("POST", "/api/auth/login", data=raw, headers={"Content-Type": "application/json"}), 400)


# Emails and text.


def test_an_email_with_a_control_character_is_refused_not_a_second_account(api):
    account = {"email": "nul@example.com", "password": "correct horse battery", "name": "Nul"}
    assert api.request("POST", "/api/auth/signup", json=account).status_code == 201

    # C0 and C1 controls, and the invisible format characters (Cf) that make one address look like another: a
    # zero-width space, a soft hyphen, a byte order mark and a right-to-left override inside the address.
    for email in (
        "nul\x00@example.com",
        "nul@example.com\x00",
        "n\x07ul@example.com",
        "nul@exa\x85mple.com",
        "nul\u200b@example.com",
        "n\u00adul@example.com",
        "nu\ufeffl@example.com",
        "nul@\u202eexample.com",
    ):
        body = assert_problem(api.request("POST", "/api/auth/signup", json={**account, "email": email}), 422)
        assert body["errors"][0]["loc"] == ["body", "email"]


def test_the_same_address_written_differently_is_the_same_account(api):
    account = {"email": "Grace@Example.com", "password": "correct horse battery", "name": "Grace"}
    created = api.request("POST", "/api/auth/signup", json=account)
    assert created.status_code == 201
    assert created.json()["user"]["email"] == "grace@example.com"

    def wide(text: str) -> str:  # the full-width forms, which NFKC maps back to ASCII
        return "".join(chr(ord(character) + 0xFEE0) for character in text)

    full_width = f"{wide('grace')}@{wide('example')}.{wide('com')}"
    for email in ("grace@EXAMPLE.COM", " GRACE@example.com ", full_width):
        assert api.request("POST", "/api/auth/signup", json={**account, "email": email}).status_code == 409
        logged_in = api.request("POST", "/api/auth/login", json={"email": email, "password": account["password"]})
        assert logged_in.status_code == 200, email


def test_control_characters_are_refused_in_titles_and_names_but_content_keeps_lines_and_tabs(api):
    alice = {"Authorization": f"Bearer {token('alice')}"}

    bad_title = api.request("POST", "/api/posts", json={"title": "Hi\x00", "content": "x"}, headers=alice)
    bad_name = api.request(
        "POST",
        "/api/auth/signup",
        json={"email": "x@example.com", "password": "correct horse battery", "name": "A\x1b"},
    )
    content = "Line one\r\nLine two\n\tindented"
    good = api.request("POST", "/api/posts", json={"title": "Lines", "content": content}, headers=alice)

    assert assert_problem(bad_title, 422)["errors"][0]["loc"] == ["body", "title"]
    assert assert_problem(bad_name, 422)["errors"][0]["loc"] == ["body", "name"]
    assert good.status_code == 201
    assert good.json()["content"] == content


def test_whitespace_only_titles_and_passwords_are_422(api):
    alice = {"Authorization": f"Bearer {token('alice')}"}

    title = api.request("POST", "/api/posts", json={"title": " \u3000 ", "content": "x"}, headers=alice)
    password = api.request(
        "POST", "/api/auth/signup", json={"email": "spaces@example.com", "password": " " * 16, "name": "S"}
    )

    assert assert_problem(title, 422)["errors"][0]["loc"] == ["body", "title"]
    assert assert_problem(password, 422)["errors"][0]["loc"] == ["body", "password"]


# Encoded slashes: API Gateway decodes the path before it routes, so %2F separates segments like /.


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_an_encoded_slash_in_a_post_id_is_a_404_from_the_catch_all(api, method):
    response = api.request(method, "/api/posts/a%2Fb")

    body = assert_problem(response, 404)
    assert body["detail"] == "No route matches this path."
    assert "Allow" not in response.headers


# HEAD: every GET route, with the GET's status and headers, Content-Length included, and no body.


@pytest.mark.parametrize(
    ("path", "user"),
    [
        ("/api/health", None),
        ("/api/hello", None),
        ("/api/posts", None),
        ("/api/posts?limit=1", "alice"),
        ("/api/openapi.json", None),
        ("/api/docs", None),
        ("/api/auth/me", None),
        ("/api/orders", "alice"),
        ("/api/uploads", "alice"),
        ("/api/weather", None),
    ],
)
def test_head_answers_every_get_route_with_the_gets_headers_and_no_body(api, path, user):
    headers = {"Authorization": f"Bearer {token(user)}"} if user else {}
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


def test_head_on_an_existing_post_sends_its_length(api):
    alice = {"Authorization": f"Bearer {token('alice')}"}
    location = api.request("POST", "/api/posts", json={"title": "Sized", "content": "x" * 300}, headers=alice).headers[
        "Location"
    ]

    got, head = api.get(location), api.request("HEAD", location)

    assert int(head.headers["Content-Length"]) == len(got.content) > 300
    assert head.content == b""


# Writes that change nothing keep the version and the ETag.


def test_a_patch_that_changes_nothing_keeps_the_version_and_etag(api):
    alice = {"Authorization": f"Bearer {token('alice')}"}
    post = {"title": "Still", "content": "the same"}
    location = api.request("POST", "/api/posts", json=post, headers=alice).headers["Location"]

    for patch in ({}, {"title": "Still"}, post):
        patched = api.request(
            "PATCH", location, data=json.dumps(patch), headers={**alice, "Content-Type": "application/json"}
        )
        assert patched.status_code == 200, patched.text
        assert patched.headers["ETag"] == '"v1"'
        assert patched.json()["updated_at"] == patched.json()["created_at"]

    assert api.request("PUT", location, json=post, headers={**alice, "If-Match": '"v1"'}).headers["ETag"] == '"v1"'
    assert api.request("PATCH", location, json={"title": "Moved"}, headers=alice).headers["ETag"] == '"v2"'

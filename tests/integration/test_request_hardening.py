"""The real template.yaml through the dev server, for what a client can send at the edges: JSON the parser must
bound, addresses and text with control characters, and cursors changed or made by hand. (Encoded slashes, HEAD and
writes that change nothing are checked on every target, in test_any_target.py.)
"""

from __future__ import annotations

import base64
import json

import pytest

from tests.integration.conftest import assert_problem, token

pytestmark = pytest.mark.devserver_only(reason="tokens from `devserver token`, and addresses that sign up once")


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


# Cursors: signed, and bound to the list they came from.


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

"""GET and HEAD /api/posts: newest first, opaque cursors, an author filter, and 400 for a bad query."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.conftest import Result, assert_problem, invoke, load_event


def list_posts(sample: str = "posts_list/get.json", **query: str) -> Result:
    return invoke("posts_list", load_event(sample, query=query))


def walk(page_size: int, **query: str) -> tuple[list[dict[str, Any]], int]:
    """Follow next_cursor from the first page to the end; the items in order and how many pages it took."""
    items: list[dict[str, Any]] = []
    cursor = None
    for pages in range(1, 100):
        params = {"limit": str(page_size), **query, **({"cursor": cursor} if cursor else {})}
        result = list_posts(**params)
        assert result.status == 200, result.body
        page = result.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= page_size
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert isinstance(cursor, str)
        assert cursor
    raise AssertionError("pagination never ended")


def make_cursor(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.fixture
def seven_posts(create_post) -> list[dict[str, Any]]:
    """Seven posts, oldest first: alice wrote the even ones, bob the odd ones."""
    return [create_post(author="alice" if n % 2 == 0 else "bob", title=f"post {n}") for n in range(7)]


def test_an_empty_list(aws):
    result = list_posts()

    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.json() == {"items": [], "next_cursor": None}


def test_one_page_lists_every_post_newest_first(seven_posts):
    result = list_posts(limit="10")

    page = result.json()
    assert [item["id"] for item in page["items"]] == [post["id"] for post in reversed(seven_posts)]
    assert page["next_cursor"] is None
    newest = seven_posts[-1]
    assert page["items"][0] == {key: newest[key] for key in page["items"][0]}
    assert set(page["items"][0]) == {"id", "title", "content", "author_id", "created_at", "updated_at"}


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 100])
def test_pages_visit_every_post_once_newest_first(seven_posts, page_size):
    items, pages = walk(page_size)

    assert [item["id"] for item in items] == [post["id"] for post in reversed(seven_posts)]
    # Some stores answer an exactly full last page with a cursor to one empty page; never more than that.
    assert pages in {-(-7 // page_size), -(-7 // page_size) + 1}


def test_the_default_page_holds_20_posts(create_post):
    for n in range(21):
        create_post(title=f"post {n}")

    page = list_posts().json()

    assert len(page["items"]) == 20
    assert page["items"][0]["title"] == "post 20"
    rest = list_posts(cursor=page["next_cursor"]).json()
    assert [item["title"] for item in rest["items"]] == ["post 0"]


def test_the_author_filter_lists_only_that_authors_posts(seven_posts):
    items, _ = walk(2, author="alice")

    alice = [post["id"] for post in reversed(seven_posts) if post["author_id"] == "alice"]
    assert [item["id"] for item in items] == alice
    assert {item["author_id"] for item in items} == {"alice"}


def test_an_author_without_posts_has_an_empty_list(seven_posts):
    assert list_posts(author="nobody").json() == {"items": [], "next_cursor": None}


def test_a_new_post_does_not_disturb_a_walk_in_progress(seven_posts, create_post):
    first = list_posts(limit="3").json()

    create_post(title="newer than the cursor")
    second = list_posts(limit="10", cursor=first["next_cursor"]).json()

    seen = [item["id"] for item in first["items"] + second["items"]]
    assert seen == [post["id"] for post in reversed(seven_posts)]


# 400: a query the list cannot answer.


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "", "1.5", "10,20"])
def test_a_bad_limit_is_400_with_errors(aws, limit):
    body = assert_problem(list_posts(limit=limit), 400, instance="/api/posts")

    assert body["detail"] == "The query string is invalid."
    assert [error["loc"] for error in body["errors"]] == [["query", "limit"]]
    assert all(set(error) == {"loc", "msg", "type"} for error in body["errors"])


@pytest.mark.parametrize("limit", ["1", "100"])
def test_the_limit_bounds_are_accepted(seven_posts, limit):
    assert len(list_posts(limit=limit).json()["items"]) == min(int(limit), 7)


@pytest.mark.parametrize("field", ["author", "cursor"])
def test_an_empty_author_or_cursor_is_400(aws, field):
    body = assert_problem(list_posts(**{field: ""}), 400)

    assert body["errors"][0]["loc"] == ["query", field]


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "garbage",
        "%%%%",
        make_cursor([1, 2, 3]),
        make_cursor("a string"),
        make_cursor({"id": {"S": "x"}}),
        make_cursor({"id": "x", "entity": "post", "created_at": "2026-01-01"}),
        make_cursor({"id": {"N": "1"}, "entity": {"S": "post"}, "created_at": {"S": "2026-01-01"}}),
        make_cursor({"id": {"S": "x"}, "entity": {"S": "post"}, "created_at": {"S": "x"}, "extra": {"S": "x"}}),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
    ],
)
def test_a_malformed_cursor_is_400(seven_posts, cursor):
    body = assert_problem(list_posts(cursor=cursor), 400)

    assert body["detail"] == "The cursor is invalid."


def test_a_cursor_of_the_full_list_is_400_with_an_author(seven_posts):
    cursor = list_posts(limit="2").json()["next_cursor"]

    body = assert_problem(list_posts(limit="2", author="alice", cursor=cursor), 400)

    assert body["detail"] == "The cursor is invalid."


def test_a_cursor_of_an_author_is_400_without_the_author(seven_posts):
    cursor = list_posts(limit="2", author="alice").json()["next_cursor"]

    assert_problem(list_posts(limit="2", cursor=cursor), 400)


def test_a_cursor_of_one_author_is_400_for_another(seven_posts):
    # DynamoDB refuses a start key outside the queried partition (ValidationException): a 400, never a 500.
    cursor = list_posts(limit="2", author="alice").json()["next_cursor"]

    assert_problem(list_posts(limit="2", author="bob", cursor=cursor), 400)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("entity", "user"),
        ("created_at", ""),
        ("id", ""),
        # Over DynamoDB's 1,024 bytes for a range key: AWS answers ValidationException (a 500); moto does not.
        ("created_at", "2026-11-27T10:00:00.000000Z" + "9" * 1000),
    ],
)
def test_a_forged_cursor_is_400(seven_posts, attribute, value):
    # The key the second page starts after, written by hand (cursors are signed: see test_cursors.py), then changed.
    post = seven_posts[-2]
    key = {"id": {"S": post["id"]}, "entity": {"S": "post"}, "created_at": {"S": post["created_at"]}}
    key[attribute] = {"S": value}

    assert_problem(list_posts(limit="2", cursor=make_cursor(key)), 400)


# HEAD: the GET answer (the gateway sends it without its body, apikit.routes).


def test_head_answers_as_get_does(seven_posts):
    get = list_posts(limit="2")
    head = list_posts("posts_list/head.json", limit="2")

    assert head.status == get.status == 200
    assert head.body == get.body
    assert head.headers["content-type"] == get.headers["content-type"] == "application/json"
    assert set(head.headers) == set(get.headers)


def test_head_with_a_bad_query_is_the_gets_400(aws):
    result = list_posts("posts_list/head.json", limit="0")

    assert result.status == 400
    assert result.headers["content-type"] == "application/problem+json"
    assert result.body == list_posts(limit="0").body

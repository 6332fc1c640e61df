"""ETags: If-None-Match gives 304 on reads (weak comparison), If-Match guards writes (strong comparison, 412)."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import Result, assert_problem, fetch_post, invoke, load_event, post_event, write_post


def get(post_id: str, if_none_match: str | None, sample: str = "posts_get/get.json") -> Result:
    return invoke("posts_get", post_event(sample, post_id, headers={"if-none-match": if_none_match}))


# Reads.


def test_an_anonymous_get_may_be_cached_briefly_then_revalidated_with_its_etag(create_post):
    post = create_post()

    result = get(post["id"], None)

    assert result.status == 200
    assert result.headers["etag"] == '"v1"'
    assert result.headers["cache-control"] == "public, max-age=10"
    assert result.headers["vary"] == "Authorization, Origin"


def test_a_signed_in_reader_revalidates_every_time_and_shared_caches_keep_nothing(create_post):
    post = create_post()
    event = post_event(
        "posts_get/get.json", post["id"], headers={"authorization": "Bearer anything", "if-none-match": None}
    )

    result = invoke("posts_get", event)

    assert result.status == 200
    assert result.headers["cache-control"] == "private, no-cache"
    assert result.headers["etag"] == '"v1"'


def test_the_list_has_a_content_etag_that_changes_with_the_page_and_answers_304(create_post):
    def list_posts(if_none_match: str | None) -> Result:
        everyone = {"rawQueryString": "limit=10", "queryStringParameters": {"limit": "10"}}
        return invoke(
            "posts_list", load_event("posts_list/get.json", headers={"if-none-match": if_none_match}, **everyone)
        )

    create_post(title="First")
    listed = list_posts(None)
    tag = listed.headers["etag"]
    assert listed.status == 200
    assert listed.headers["cache-control"] == "public, max-age=10"

    again = list_posts(tag)
    assert (again.status, again.body, again.headers["etag"]) == (304, "", tag)

    create_post(title="Second")
    changed = list_posts(tag)
    assert changed.status == 200
    assert changed.headers["etag"] != tag
    assert [item["title"] for item in changed.json()["items"]][:2] == ["Second", "First"]


def test_the_lists_etag_is_its_bodys_digest_so_every_container_tags_a_page_alike(create_post):
    create_post(title="First")

    listed = invoke("posts_list", load_event("posts_list/get.json", headers={"if-none-match": None}))

    assert listed.status == 200
    assert listed.headers["etag"] == '"' + hashlib.sha256(listed.body.encode()).hexdigest()[:32] + '"'


@pytest.mark.parametrize("if_none_match", ['"v1"', "*", 'W/"v1"', '"v7", "v1"', '"v7","v1"', ' "v0" , W/"v1" '])
def test_a_matching_if_none_match_is_304_without_a_body(create_post, if_none_match):
    post = create_post()

    result = get(post["id"], if_none_match)

    assert result.status == 304
    assert result.body == ""
    assert result.headers["etag"] == '"v1"'
    assert result.headers["cache-control"] == "public, max-age=10"


@pytest.mark.parametrize("if_none_match", ['"v2"', '"v0"', 'W/"v2"', '"v01"', "v1", "garbage", ""])
def test_a_non_matching_if_none_match_is_200_with_the_post(create_post, if_none_match):
    post = create_post(title="Fresh")

    result = get(post["id"], if_none_match)

    assert result.status == 200
    assert result.json()["title"] == "Fresh"
    assert result.headers["etag"] == '"v1"'


def test_a_stale_etag_is_200_after_a_change(create_post):
    post = create_post()
    write_post("PATCH", post["id"], body={"title": "Changed"})

    result = get(post["id"], '"v1"')

    assert result.status == 200
    assert result.headers["etag"] == '"v2"'
    assert result.json()["title"] == "Changed"
    assert get(post["id"], '"v2"').status == 304


def test_if_none_match_on_an_unknown_post_is_404(aws):
    assert_problem(get("3f1c2a9e-8b7d-4e21-9a6f-0c5d2e7b1a44", "*"), 404)


# HEAD on one post: the GET answer (the gateway sends it without its body, apikit.routes).


@pytest.mark.parametrize("if_none_match", [None, '"v1"', '"v2"'])
def test_head_answers_as_get_does(create_post, if_none_match):
    post = create_post()

    got = get(post["id"], if_none_match)
    head = get(post["id"], if_none_match, sample="posts_get/head.json")

    assert head.status == got.status
    assert head.body == got.body
    assert head.headers["etag"] == got.headers["etag"] == '"v1"'
    assert head.headers.get("content-type") == got.headers.get("content-type")
    assert set(head.headers) == set(got.headers)


# Writes.

WRITE_BODIES = {"PUT": {"title": "New", "content": "New"}, "PATCH": {"title": "New"}}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("if_match", ['"v1"', "*", '"v5", "v1"'])
def test_a_matching_if_match_writes_and_answers_the_new_etag(create_post, method, if_match):
    post = create_post()

    result = write_post(method, post["id"], headers={"if-match": if_match}, body=WRITE_BODIES[method])

    assert result.status == 200, result.body
    assert result.headers["etag"] == '"v2"'
    assert result.json()["title"] == "New"
    assert fetch_post(post["id"]).headers["etag"] == '"v2"'


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(
    "if_match",
    [
        '"v2"',  # a version that does not exist yet
        '"v0"',
        'W/"v1"',  # weak tags never match for If-Match (strong comparison)
        '"v01"',  # not a tag this API ever issued, even if it reads as version 1
        "v1",  # unquoted
        "garbage",
        "",
    ],
)
def test_a_non_matching_if_match_is_412_and_changes_nothing(create_post, method, if_match):
    post = create_post(title="Untouched")

    result = write_post(method, post["id"], headers={"if-match": if_match}, body=WRITE_BODIES[method])

    body = assert_problem(result, 412, instance=f"/api/posts/{post['id']}")
    assert body["detail"] == "The post has changed since the given If-Match version."
    stored = fetch_post(post["id"])
    assert stored.json()["title"] == "Untouched"
    assert stored.headers["etag"] == '"v1"'


# DynamoDB takes at most 100 values in an IN list (tests/dynamodb_limits.py): more is a ValidationException on AWS,
# and moto says nothing.
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_with_more_than_100_versions_is_a_400_and_changes_nothing(create_post, method):
    post = create_post(title="Untouched")
    if_match = ", ".join(f'"v{version}"' for version in range(101, 0, -1))  # the current one last

    result = write_post(method, post["id"], headers={"if-match": if_match}, body=WRITE_BODIES.get(method))

    body = assert_problem(result, 400)
    assert "100" in body["detail"]
    assert fetch_post(post["id"]).json()["title"] == "Untouched"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match_with_100_versions_or_one_repeated_is_a_write(create_post, method):
    first, second = create_post(), create_post()
    hundred = ", ".join(f'"v{version}"' for version in range(100, 0, -1))
    repeated = ", ".join(['"v1"'] * 300)

    for post, if_match in ((first, hundred), (second, repeated)):
        result = write_post(method, post["id"], headers={"if-match": if_match}, body=WRITE_BODIES.get(method))
        assert result.status in (200, 204), result.body


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_stale_if_match_is_412_after_someone_else_wrote(create_post, method):
    post = create_post()
    assert write_post("PATCH", post["id"], headers={"if-match": '"v1"'}, body={"title": "First"}).status == 200

    result = write_post(method, post["id"], headers={"if-match": '"v1"'}, body=WRITE_BODIES[method])

    assert_problem(result, 412)
    assert fetch_post(post["id"]).json()["title"] == "First"


@pytest.mark.parametrize("if_match", ['"v1"', "*", '"v3", "v1"'])
def test_delete_with_a_matching_if_match_is_204(create_post, if_match):
    post = create_post()

    result = write_post("DELETE", post["id"], headers={"if-match": if_match})

    assert result.status == 204
    assert result.body == ""
    assert fetch_post(post["id"]).status == 404


@pytest.mark.parametrize("if_match", ['"v2"', 'W/"v1"', '"v01"', "garbage"])
def test_delete_with_a_non_matching_if_match_is_412_and_keeps_the_post(create_post, if_match):
    post = create_post()

    result = write_post("DELETE", post["id"], headers={"if-match": if_match})

    assert_problem(result, 412)
    assert fetch_post(post["id"]).status == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_a_non_owner_with_the_right_if_match_is_still_403(create_post, method):
    post = create_post(author="alice")

    result = write_post(method, post["id"], user="mallory", headers={"if-match": '"v1"'}, body=WRITE_BODIES.get(method))

    assert_problem(result, 403)
    assert fetch_post(post["id"]).headers["etag"] == '"v1"'


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("if_match", ['"v1"', "*"])
def test_if_match_on_an_unknown_post_is_404(aws, method, if_match):
    result = write_post(
        method, "3f1c2a9e-8b7d-4e21-9a6f-0c5d2e7b1a44", headers={"if-match": if_match}, body=WRITE_BODIES.get(method)
    )

    assert_problem(result, 404)

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import assert_problem, bearer, fetch_post, invoke, load_event, post_event, write_post

PUBLIC_FIELDS = {"id", "title", "content", "author_id", "created_at", "updated_at"}


def test_create_then_get_round_trip(create_post):
    post = create_post(author="alice", title="Hello", content="World")

    result = invoke(
        "posts_get", load_event("posts_get/get.json", path=f"/api/posts/{post['id']}", headers={"if-none-match": None})
    )

    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.headers["etag"] == post["etag"] == '"v1"'
    body = result.json()
    assert body == {
        "id": post["id"],
        "title": "Hello",
        "content": "World",
        "author_id": "alice",
        "created_at": post["created_at"],
        "updated_at": post["created_at"],
    }


def test_create_returns_location_and_request_id(aws):
    event = load_event("posts_create/post.json", headers={"authorization": bearer("bob")})

    result = invoke("posts_create", event)

    assert result.status == 201
    assert result.headers["location"] == f"/api/posts/{result.json()['id']}"
    assert result.headers["x-request-id"] == event["requestContext"]["requestId"]


def test_create_answers_the_new_post_with_a_fresh_uuid_and_the_caller_as_author(aws):
    result = invoke(
        "posts_create",
        load_event(
            "posts_create/post.json", headers={"authorization": bearer("carol")}, body={"title": "T", "content": ""}
        ),
    )

    assert result.status == 201
    assert result.headers["content-type"] == "application/json"
    assert result.headers["etag"] == '"v1"'
    body = result.json()
    assert set(body) == PUBLIC_FIELDS  # no internal attributes such as version or entity
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["author_id"] == "carol"
    assert body["title"] == "T"
    assert body["content"] == ""
    assert body["created_at"] == body["updated_at"]
    assert body["created_at"].endswith("Z")


def test_two_creates_make_two_posts(create_post):
    first = create_post(title="one")
    second = create_post(title="two")

    assert first["id"] != second["id"]
    assert fetch_post(first["id"]).json()["title"] == "one"
    assert fetch_post(second["id"]).json()["title"] == "two"


def test_a_create_never_overwrites_a_post_that_has_its_id(create_post, monkeypatch):
    """A UUID drawn twice (a broken random source) must not replace another author's post."""
    first = create_post(author="alice", title="first")
    body = {"title": "second", "content": ""}
    event = load_event("posts_create/post.json", headers={"authorization": bearer("mallory")}, body=body)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(first["id"]))

    result = invoke("posts_create", event)

    assert result.status == 500  # the write is refused; nothing the client sent was wrong

    assert fetch_post(first["id"]).json()["title"] == "first"
    assert fetch_post(first["id"]).json()["author_id"] == "alice"


def test_put_replaces_title_and_content_and_bumps_the_version(create_post):
    post = create_post(author="alice", title="Old", content="Old content")

    result = write_post("PUT", post["id"], body={"title": "New", "content": "New content"})

    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.headers["etag"] == '"v2"'
    body = result.json()
    assert body["title"] == "New"
    assert body["content"] == "New content"
    assert body["author_id"] == "alice"
    assert body["created_at"] == post["created_at"]
    assert body["updated_at"] > post["updated_at"]
    stored = fetch_post(post["id"])
    assert stored.json() == body
    assert stored.headers["etag"] == '"v2"'


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/json"])
def test_patch_changes_only_the_given_field(create_post, content_type):
    post = create_post(author="alice", title="Old", content="Kept")

    result = write_post("PATCH", post["id"], headers={"content-type": content_type}, body={"title": "New"})

    assert result.status == 200
    assert result.headers["etag"] == '"v2"'
    body = result.json()
    assert body["title"] == "New"
    assert body["content"] == "Kept"
    assert body["created_at"] == post["created_at"]
    assert body["updated_at"] > post["updated_at"]
    assert fetch_post(post["id"]).json() == body


def test_patch_content_keeps_the_title(create_post):
    post = create_post(author="alice", title="Kept", content="Old")

    result = write_post("PATCH", post["id"], body={"content": "New"})

    assert result.status == 200
    assert (result.json()["title"], result.json()["content"]) == ("Kept", "New")


def test_successive_writes_count_versions(create_post):
    post = create_post()

    etags = [write_post("PATCH", post["id"], body={"title": f"t{n}"}).headers["etag"] for n in range(3)]

    assert etags == ['"v2"', '"v3"', '"v4"']
    assert fetch_post(post["id"]).json()["title"] == "t2"


def test_delete_answers_204_and_the_post_is_gone(create_post):
    post = create_post(author="alice")

    result = write_post("DELETE", post["id"])

    assert result.status == 204
    assert result.body == ""
    assert_problem(fetch_post(post["id"]), 404, instance=f"/api/posts/{post['id']}")
    assert_problem(write_post("DELETE", post["id"]), 404)


# Unknown ids: a well-formed UUID nobody created, and strings that are no post id at all. The random one has a fixed
# test id, so that every collection names the same tests (make mutate maps tests to functions in one process and
# runs them by name in others).
MISSING_IDS = [
    pytest.param(str(uuid.uuid4()), id="random-uuid"),
    "not-a-uuid",
    "42",
    "3f1c2a9e8b7d4e219a6f0c5d2e7b1a44",
]


@pytest.mark.parametrize("post_id", MISSING_IDS)
@pytest.mark.parametrize("sample", ["posts_get/get.json", "posts_get/head.json"])
def test_reading_an_unknown_post_is_404(aws, post_id, sample):
    result = invoke("posts_get", post_event(sample, post_id, headers={"if-none-match": None}))

    # A HEAD answers as its GET does (the gateway sends no body).
    body = assert_problem(result, 404, instance=f"/api/posts/{post_id}")
    assert body["detail"] == "No post has this id."


@pytest.mark.parametrize("post_id", MISSING_IDS)
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_writing_an_unknown_post_is_404(aws, post_id, method):
    result = write_post(method, post_id)

    body = assert_problem(result, 404, instance=f"/api/posts/{post_id}")
    assert body["detail"] == "No post has this id."


REPOSITORY_CALLS = {
    "get": lambda posts, post_id: posts.get(post_id),
    "update": lambda posts, post_id: posts.update(post_id, "alice", {"title": "T"}),
    "update-nothing": lambda posts, post_id: posts.update(post_id, "alice", {}),
    "delete": lambda posts, post_id: posts.delete(post_id, "alice"),
}


@pytest.mark.parametrize("call", REPOSITORY_CALLS)
def test_the_repository_answers_404_for_what_is_no_post_id_without_asking_dynamodb(dynamodb_calls, call):
    """The handlers check their path first; the repository does not rely on it, and spends no request on it."""
    from apikit.errors import NotFound
    from apikit.repositories.posts import PostsRepository

    for post_id in MISSING_IDS[1:]:
        with pytest.raises(NotFound) as refused:
            REPOSITORY_CALLS[call](PostsRepository(), post_id)

        assert refused.value.detail == "No post has this id."
    assert dynamodb_calls == []


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_an_update_of_an_unknown_id_creates_nothing(aws, method):
    post_id = str(uuid.uuid4())

    write_post(method, post_id, body={"title": "ghost", "content": "ghost"})

    assert fetch_post(post_id).status == 404
    listing = invoke("posts_list", load_event("posts_list/get.json", query={}))
    assert listing.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("method", "body"),
    [("PUT", {"title": "Hijacked", "content": "Hijacked"}), ("PATCH", {"title": "Hijacked"}), ("DELETE", None)],
)
@pytest.mark.parametrize(("author", "caller"), [("alice", "mallory"), ("mallory", "alice")])  # either id first
def test_only_the_author_may_change_a_post(create_post, method, body, author, caller):
    post = create_post(author=author, title="Mine", content="Mine")
    before = fetch_post(post["id"])

    result = write_post(method, post["id"], user=caller, body=body)

    problem = assert_problem(result, 403, instance=f"/api/posts/{post['id']}")
    assert problem["detail"] == "Only the author may change this post."
    after = fetch_post(post["id"])
    assert after.status == 200
    assert after.json() == before.json()
    assert after.headers["etag"] == '"v1"'


REFUSED_WRITES = {
    "update": lambda posts, post_id, caller, if_match: posts.update(post_id, caller, {"title": "Changed"}, if_match),
    "delete": lambda posts, post_id, caller, if_match: posts.delete(post_id, caller, if_match),
}


@pytest.mark.parametrize("write", REFUSED_WRITES)
@pytest.mark.parametrize(
    ("refusal", "error"),
    [("unknown-post", "NotFound"), ("other-author", "Forbidden"), ("stale-version", "PreconditionFailed")],
)
def test_a_refused_write_raises_its_reason_from_dynamodbs_refusal(create_post, write, refusal, error):
    """The repository's error names the reason, and carries DynamoDB's refused condition as its cause (what a traceback
    shows): the write was refused by DynamoDB itself, not by a read before it."""
    from botocore.exceptions import ClientError

    from apikit.errors import ApiError
    from apikit.repositories.posts import PostsRepository

    post_id = str(uuid.uuid4()) if refusal == "unknown-post" else create_post(author="alice")["id"]
    caller = "mallory" if refusal == "other-author" else "alice"
    if_match = [7] if refusal == "stale-version" else None

    with pytest.raises(ApiError) as refused:
        REFUSED_WRITES[write](PostsRepository(), post_id, caller, if_match)

    assert type(refused.value).__name__ == error
    cause = refused.value.__cause__
    assert isinstance(cause, ClientError)
    assert cause.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_the_author_cannot_be_changed_through_the_body(create_post):
    post = create_post(author="alice")

    result = write_post("PATCH", post["id"], body={"author_id": "mallory"})

    assert_problem(result, 422)
    assert fetch_post(post["id"]).json()["author_id"] == "alice"


# A write that changes nothing is no new version: the ETag a client holds stays valid, and nothing is written.


class Calls(list[str]):
    """Operation names, and `params`: each one's parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.params: list[dict[str, Any]] = []

    def clear(self) -> None:
        super().clear()
        self.params.clear()


@pytest.fixture
def dynamodb_calls(aws):
    """The operations the handlers send to the posts table, in order, as botocore receives their parameters."""
    from apikit.config import get_settings
    from apikit.repositories import dynamodb

    calls = Calls()

    def record(model, params, **_):
        if params.get("TableName") == get_settings().posts_table:
            calls.append(model.name)
            calls.params.append(params)

    events = dynamodb().meta.events
    events.register("provide-client-params.dynamodb.*", record, unique_id="count-calls")
    yield calls
    events.unregister("provide-client-params.dynamodb.*", unique_id="count-calls")


NO_CHANGES = [
    ("PATCH", {}),
    ("PATCH", {"title": "Same"}),
    ("PATCH", {"title": "Same", "content": "Unchanged"}),
    ("PUT", {"title": "Same", "content": "Unchanged"}),
]


@pytest.mark.parametrize(("method", "body"), NO_CHANGES)
@pytest.mark.parametrize("if_match", [None, '"v1"', '"v0", "v1"', "*"])
def test_a_write_that_changes_nothing_keeps_the_version_and_the_etag(create_post, method, body, if_match):
    post = create_post(author="alice", title="Same", content="Unchanged")
    headers = {"if-match": if_match} if if_match else {}

    result = write_post(method, post["id"], body=body, headers=headers)

    assert result.status == 200, result.body
    assert result.headers["etag"] == '"v1"'
    assert result.json() == {key: value for key, value in post.items() if key != "etag"}
    stored = fetch_post(post["id"])
    assert stored.headers["etag"] == '"v1"'
    assert stored.json()["updated_at"] == post["updated_at"]


@pytest.mark.parametrize(("method", "body"), NO_CHANGES)
def test_a_write_that_changes_nothing_still_checks_author_existence_and_if_match(create_post, method, body):
    post = create_post(author="alice", title="Same", content="Unchanged")

    assert_problem(write_post(method, post["id"], user="mallory", body=body), 403)
    assert_problem(write_post(method, post["id"], body=body, headers={"if-match": '"v7"'}), 412)
    assert_problem(write_post(method, str(uuid.uuid4()), body=body), 404)
    assert fetch_post(post["id"]).headers["etag"] == '"v1"'


@pytest.mark.parametrize(("method", "body"), NO_CHANGES[1:])
def test_a_write_of_the_same_values_is_one_conditional_write_and_no_read(create_post, dynamodb_calls, method, body):
    post = create_post(author="alice", title="Same", content="Unchanged")
    dynamodb_calls.clear()

    write_post(method, post["id"], body=body)

    assert dynamodb_calls == ["UpdateItem"]


def test_an_empty_patch_is_one_consistent_read_and_no_write(create_post, dynamodb_calls):
    post = create_post(author="alice")
    dynamodb_calls.clear()

    write_post("PATCH", post["id"], body={})

    assert dynamodb_calls == ["GetItem"]
    # Strongly consistent: the checks must see the latest write (an eventually consistent read may not).
    assert dynamodb_calls.params[0]["ConsistentRead"] is True

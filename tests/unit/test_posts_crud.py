from __future__ import annotations

from tests.conftest import bearer, invoke, load_event


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

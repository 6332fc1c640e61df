"""GET and HEAD /api/posts/{id}: one post with its ETag; 304 when If-None-Match still matches."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.conditional import etag, not_modified
from apikit.repositories.posts import PostsRepository
from apikit.responses import empty_response, json_response

app = create_app()
posts = PostsRepository()


@app.route("/api/posts/<post_id>", method=["GET", "HEAD"])
def get_post(post_id: str) -> Response[str]:
    post = posts.get(post_id)
    # no-cache: caches may keep it but must revalidate, which the ETag makes cheap.
    headers = {"ETag": etag(post.version), "Cache-Control": "no-cache"}
    if not_modified(app.current_event, headers["ETag"]):
        return empty_response(HTTPStatus.NOT_MODIFIED, headers)
    return json_response(post, headers=headers)


lambda_handler = make_handler(app)

"""PATCH /api/posts/{id}: JSON merge patch (RFC 7396); author only, honours If-Match."""

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import require_user
from apikit.conditional import etag, if_match_versions
from apikit.repositories.posts import PostPatch, PostsRepository
from apikit.responses import json_response
from apikit.validation import parse_body

app = create_app()
posts = PostsRepository()
MEDIA_TYPES = ("application/merge-patch+json", "application/json")


@app.patch("/api/posts/<post_id>")
def patch_post(post_id: str) -> Response[str]:
    event = app.current_event
    user = require_user(event)
    patch = parse_body(event, PostPatch, MEDIA_TYPES)
    post = posts.update(post_id, user.user_id, patch.changes(), if_match_versions(event))
    return json_response(post, headers={"ETag": etag(post.version)})


lambda_handler = make_handler(app)

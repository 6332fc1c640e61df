"""PUT /api/posts/{id}: replace title and content; author only, honours If-Match."""

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import require_user
from apikit.conditional import etag, if_match_versions
from apikit.repositories.posts import PostInput, PostsRepository
from apikit.responses import json_response
from apikit.validation import parse_body

app = create_app()
posts = PostsRepository()


@app.put("/api/posts/<post_id>")
def replace_post(post_id: str) -> Response[str]:
    event = app.current_event
    user = require_user(event)
    data = parse_body(event, PostInput)
    post = posts.update(post_id, user.user_id, data.model_dump(), if_match_versions(event))
    return json_response(post, headers={"ETag": etag(post.version)})


lambda_handler = make_handler(app)

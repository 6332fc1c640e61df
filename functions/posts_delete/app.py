"""DELETE /api/posts/{id}: author only, honours If-Match; 204."""

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import require_user
from apikit.conditional import if_match_versions
from apikit.repositories.posts import PostsRepository
from apikit.responses import empty_response

app = create_app()
posts = PostsRepository()


@app.delete("/api/posts/<post_id>")
def delete_post(post_id: str) -> Response[str]:
    event = app.current_event
    user = require_user(event)
    posts.delete(post_id, user.user_id, if_match_versions(event))
    return empty_response()


lambda_handler = make_handler(app)

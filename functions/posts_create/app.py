"""POST /api/posts: the caller becomes the author; 201 with Location and ETag."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import require_user
from apikit.conditional import etag
from apikit.repositories.posts import PostInput, PostsRepository
from apikit.responses import json_response
from apikit.validation import parse_body

app = create_app()
posts = PostsRepository()


@app.post("/api/posts")
def create_post() -> Response[str]:
    user = require_user(app.current_event)
    post = posts.create(user.user_id, parse_body(app.current_event, PostInput))
    headers = {"Location": f"/api/posts/{post.id}", "ETag": etag(post.version)}
    return json_response(post, HTTPStatus.CREATED, headers)


lambda_handler = make_handler(app)

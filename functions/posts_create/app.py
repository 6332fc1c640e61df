"""POST /api/posts: the caller becomes the author; 201 with Location and ETag."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.conditional import etag
from apikit.repositories.posts import Post, PostInput, PostsRepository
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route

app = create_app()
posts = PostsRepository()


@route(
    app,
    "POST",
    "/api/posts",
    summary="Create a post",
    security=BEARER_AUTH,
    body=PostInput,
    status=HTTPStatus.CREATED,
    response=Post,
    response_headers={"Location": "The new post's URL.", "ETag": "The new post's version, for If-Match."},
)
def create_post(user: Principal, body: PostInput) -> Response[str]:
    post = posts.create(user.user_id, body)
    headers = {"Location": f"/api/posts/{post.id}", "ETag": etag(post.version)}
    return json_response(post, HTTPStatus.CREATED, headers)


lambda_handler = make_handler(app)

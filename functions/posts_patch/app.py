"""PATCH /api/posts/{id}: JSON merge patch (RFC 7396); author only, honours If-Match."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.conditional import IF_MATCH, etag, if_match_versions
from apikit.repositories.posts import Post, PostPatch, PostPath, PostsRepository
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route

app = create_app()
posts = PostsRepository()


@route(
    app,
    "PATCH",
    "/api/posts/{id}",
    summary="Change some fields of a post (author only)",
    security=BEARER_AUTH,
    path_model=PostPath,
    body=PostPatch,
    body_media_types=("application/merge-patch+json", "application/json"),
    response=Post,
    response_headers={"ETag": "The post's new version."},
    request_headers=IF_MATCH,
    errors=(HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.PRECONDITION_FAILED),
)
def patch_post(user: Principal, path: PostPath, body: PostPatch) -> Response[str]:
    post = posts.update(path.id, user.user_id, body.changes(), if_match_versions(app.current_event))
    return json_response(post, headers={"ETag": etag(post.version)})


lambda_handler = make_handler(app)

"""DELETE /api/posts/{id}: author only, honours If-Match; 204."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.conditional import IF_MATCH, if_match_versions
from apikit.repositories.posts import PostPath, PostsRepository
from apikit.responses import empty_response
from apikit.routes import BEARER_AUTH, route

app = create_app()
posts = PostsRepository()


@route(
    app,
    "DELETE",
    "/api/posts/{id}",
    summary="Delete a post (author only)",
    security=BEARER_AUTH,
    path_model=PostPath,
    status=HTTPStatus.NO_CONTENT,
    request_headers=IF_MATCH,
    # 400: an If-Match naming more versions than the write's condition can hold (apikit.conditional).
    errors=(HTTPStatus.BAD_REQUEST, HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND, HTTPStatus.PRECONDITION_FAILED),
)
def delete_post(user: Principal, path: PostPath) -> Response[str]:
    posts.delete(path.id, user.user_id, if_match_versions(app.current_event))
    return empty_response()


lambda_handler = make_handler(app)

"""GET and HEAD /api/posts/{id}: one post with its ETag; 304 when If-None-Match still matches."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.conditional import PUBLIC_CACHE_CONTROL, etag, not_modified, public_cache_headers
from apikit.repositories.posts import Post, PostPath, PostsRepository
from apikit.responses import empty_response, json_response
from apikit.routes import route

app = create_app()
posts = PostsRepository()


@route(
    app,
    "GET",
    "/api/posts/{id}",
    summary="Get a post",
    path_model=PostPath,
    response=Post,
    response_headers={
        "ETag": "The post's version.",
        "Cache-Control": PUBLIC_CACHE_CONTROL,
    },
    request_headers={"If-None-Match": "An ETag from an earlier answer: 304 while the post has not changed."},
    errors=(HTTPStatus.NOT_FOUND,),
    responses={HTTPStatus.NOT_MODIFIED: "The post has not changed since the ETag in If-None-Match."},
)
def get_post(path: PostPath) -> Response[str]:
    post = posts.get(path.id)
    headers = public_cache_headers(app.current_event, etag(post.version))
    if not_modified(app.current_event, headers["ETag"]):
        return empty_response(HTTPStatus.NOT_MODIFIED, headers)
    return json_response(post, headers=headers)


lambda_handler = make_handler(app)

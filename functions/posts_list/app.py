"""GET and HEAD /api/posts: newest first, cursor pagination, optionally one author's posts."""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response
from pydantic import Field

from apikit.app import create_app, make_handler
from apikit.conditional import PUBLIC_CACHE_CONTROL, content_etag, not_modified, public_cache_headers
from apikit.repositories.posts import PostPage, PostsRepository
from apikit.responses import JSON, empty_response
from apikit.routes import route
from apikit.validation import PageQuery

app = create_app()
posts = PostsRepository()


class ListQuery(PageQuery):
    author: str | None = Field(default=None, min_length=1, max_length=128, description="Only this user's posts.")


@route(
    app,
    "GET",
    "/api/posts",
    summary="List posts, newest first",
    query=ListQuery,
    response=PostPage,
    response_headers={
        "ETag": "The page's content digest.",
        "Cache-Control": PUBLIC_CACHE_CONTROL,
    },
    request_headers={"If-None-Match": "An ETag from an earlier answer: 304 while the page has not changed."},
    responses={HTTPStatus.NOT_MODIFIED: "The page has not changed since the ETag in If-None-Match."},
)
def list_posts(query: ListQuery) -> Response[str]:
    body = posts.page(query.limit, query.cursor, query.author).model_dump_json()
    headers = public_cache_headers(app.current_event, content_etag(body))
    if not_modified(app.current_event, headers["ETag"]):
        return empty_response(HTTPStatus.NOT_MODIFIED, headers)
    return Response(status_code=HTTPStatus.OK, content_type=JSON, body=body, headers=headers)


lambda_handler = make_handler(app)

"""GET and HEAD /api/posts: newest first, cursor pagination, optionally one author's posts."""

from aws_lambda_powertools.event_handler import Response
from pydantic import Field

from apikit.app import create_app, make_handler
from apikit.repositories.posts import PostPage, PostsRepository
from apikit.responses import json_response
from apikit.routes import route
from apikit.validation import PageQuery

app = create_app()
posts = PostsRepository()


class ListQuery(PageQuery):
    author: str | None = Field(default=None, min_length=1, max_length=128, description="Only this user's posts.")


@route(app, ("GET", "HEAD"), "/api/posts", summary="List posts, newest first", query=ListQuery, response=PostPage)
def list_posts(query: ListQuery) -> Response[str]:
    return json_response(posts.page(query.limit, query.cursor, query.author))


lambda_handler = make_handler(app)

"""GET and HEAD /api/posts: newest first, cursor pagination, optionally one author's posts."""

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from apikit.app import create_app, make_handler
from apikit.repositories.posts import PostPage, PostsRepository
from apikit.responses import json_response
from apikit.routes import route

app = create_app()
posts = PostsRepository()


class ListQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100, description="Posts per page.")
    cursor: str | None = Field(
        default=None, min_length=1, max_length=2048, description="`next_cursor` from the previous page."
    )
    author: str | None = Field(default=None, min_length=1, max_length=128, description="Only this user's posts.")


@route(app, ("GET", "HEAD"), "/api/posts", summary="List posts, newest first", query=ListQuery, response=PostPage)
def list_posts(query: ListQuery) -> Response[str]:
    return json_response(posts.page(query.limit, query.cursor, query.author))


lambda_handler = make_handler(app)

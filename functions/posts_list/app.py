"""GET and HEAD /api/posts: newest first, cursor pagination, optionally one author's posts."""

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from apikit.app import create_app, make_handler
from apikit.repositories.posts import PostsRepository
from apikit.responses import json_response
from apikit.validation import parse_query

app = create_app()
posts = PostsRepository()


class ListQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, min_length=1, max_length=2048)
    author: str | None = Field(default=None, min_length=1, max_length=128)


@app.route("/api/posts", method=["GET", "HEAD"])
def list_posts() -> Response[str]:
    query = parse_query(app.current_event, ListQuery)
    return json_response(posts.page(query.limit, query.cursor, query.author))


lambda_handler = make_handler(app)

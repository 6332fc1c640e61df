"""The schema's resolvers: schema.graphql bound to the layer's repositories, the same calls REST's handlers make.

Resolvers raise the layer's errors (NotFound, Forbidden, ...); app.py turns each into a GraphQL error with its
`extensions.code`. Field names are camelCase in the schema and snake_case here and on the models
(`convert_names_case`), so most fields need no resolver at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ariadne import MutationType, ObjectType, QueryType, make_executable_schema
from graphql import GraphQLResolveInfo, GraphQLSchema
from pydantic import BaseModel, ValidationError

from apikit.accounts import current_user
from apikit.auth import Principal
from apikit.conditional import accepted_versions, etag
from apikit.errors import BadRequest, Unauthorized, UnprocessableContent
from apikit.repositories.orders import OrdersRepository
from apikit.repositories.posts import Post, PostInput, PostPatch, PostsRepository
from apikit.repositories.users import Profile, UsersRepository
from apikit.validation import PageQuery, validate_request, validation_errors

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")

posts = PostsRepository()
orders = OrdersRepository()
users = UsersRepository()


@dataclass
class Authors:
    """Post.author for every post a request has read, in one BatchGetItem per level of the query.

    Each list of posts is read before any of its authors is resolved: `expect` notes their authors, and the first
    `get` reads every author noted and not yet read, all at once. A query asking for posts, their authors, those
    authors' posts and theirs again costs one BatchGetItem per level, never one per post.
    """

    expected: set[str] = field(default_factory=set)
    read: dict[str, Profile | None] = field(default_factory=dict)

    def expect(self, items: list[Post]) -> None:
        self.expected |= {post.author_id for post in items} - self.read.keys()

    def get(self, user_id: str) -> Profile | None:
        if user_id not in self.read:
            wanted = sorted(self.expected | {user_id})
            self.expected.clear()
            for start in range(0, len(wanted), 100):  # BatchGetItem's most keys; a page holds at most 100 posts
                chunk = wanted[start : start + 100]
                found = users.profiles(chunk)
                self.read |= {user: found.get(user) for user in chunk}
        return self.read[user_id]


@dataclass
class Context:
    """One request's: the caller (None when no token was sent) and its batched author reads."""

    user: Principal | None
    authors: Authors = field(default_factory=Authors)


Info = GraphQLResolveInfo[Context]


def signed_in(info: Info) -> Principal:
    user = info.context.user
    if user is None:
        raise Unauthorized("Sign in: this field needs `Authorization: Bearer <access_token>`.")
    return user


def checked[Model: BaseModel](model: type[Model], data: dict[str, Any], argument: str) -> Model:
    """The argument validated as REST validates the same body or query: the same rules and messages."""
    try:
        return validate_request(model, data)
    except ValidationError as error:
        errors = validation_errors(error, argument)
        raise UnprocessableContent(errors, invalid(errors)) from error


def invalid(errors: list[dict[str, Any]]) -> str:
    """The message a client shows: each field and REST's wording for it (`extensions.errors` has them apart)."""
    return "Invalid: " + "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in errors)


def connection(info: Info, items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """A Relay connection over one of REST's pages: only the page's end has a cursor to resume from."""
    if items and isinstance(items[0], Post):
        info.context.authors.expect(items)
    edges = [{"node": item, "cursor": None} for item in items]
    if edges:
        edges[-1]["cursor"] = next_cursor
    page_info = {"has_next_page": next_cursor is not None, "has_previous_page": False, "end_cursor": next_cursor}
    return {"edges": edges, "nodes": items, "page_info": {**page_info, "start_cursor": None}}


def page_of(first: int, after: str | None) -> PageQuery:
    try:
        return validate_request(PageQuery, {"limit": first, "cursor": after})
    except ValidationError as error:
        # REST's names for the same bounds are limit and cursor: here they are the arguments first and after.
        names = {"limit": "first", "cursor": "after"}
        errors = [{**item, "loc": [names[item["loc"][1]]]} for item in validation_errors(error, "arguments")]
        raise BadRequest(invalid(errors), errors=errors) from error


def posts_page(info: Info, first: int, after: str | None, author: str | None) -> dict[str, Any]:
    page = page_of(first, after)
    result = posts.page(page.limit, page.cursor, author)
    return connection(info, result.items, result.next_cursor)


query = QueryType()
mutation = MutationType()
me_type = ObjectType("Me")
user_type = ObjectType("User")
post_type = ObjectType("Post")


@query.field("me")
def resolve_me(_: None, info: Info) -> Any:
    return current_user(signed_in(info).user_id)


@query.field("post")
def resolve_post(_: None, info: Info, id: str) -> Post:
    post = posts.get(id)
    info.context.authors.expect([post])
    return post


@query.field("posts")
def resolve_posts(
    _: None, info: Info, first: int, after: str | None = None, author: str | None = None
) -> dict[str, Any]:
    return posts_page(info, first, after, author)


@query.field("orders")
def resolve_orders(_: None, info: Info, first: int, after: str | None = None) -> dict[str, Any]:
    user = signed_in(info)
    page = page_of(first, after)
    result = orders.page(user.user_id, page.limit, page.cursor)
    return connection(info, result.items, result.next_cursor)


@me_type.field("posts")
@user_type.field("posts")
def resolve_user_posts(user: Any, info: Info, first: int, after: str | None = None) -> dict[str, Any]:
    return posts_page(info, first, after, user.id)


@post_type.field("author")
def resolve_author(post: Post, info: Info) -> Profile | None:
    return info.context.authors.get(post.author_id)


@post_type.field("etag")
def resolve_etag(post: Post, _: Info) -> str:
    return etag(post.version)


@mutation.field("createPost")
def resolve_create_post(_: None, info: Info, input: dict[str, Any]) -> Post:
    return posts.create(signed_in(info).user_id, checked(PostInput, input, "input"))


@mutation.field("updatePost")
def resolve_update_post(_: None, info: Info, id: str, input: dict[str, Any], if_match: str | None = None) -> Post:
    user = signed_in(info)
    changes = checked(PostPatch, input, "input").changes()
    return posts.update(id, user.user_id, changes, accepted_versions(if_match))


@mutation.field("deletePost")
def resolve_delete_post(_: None, info: Info, id: str, if_match: str | None = None) -> str:
    user = signed_in(info)
    posts.delete(id, user.user_id, accepted_versions(if_match))
    return id


def build_schema() -> GraphQLSchema:
    return make_executable_schema(
        SCHEMA_FILE.read_text(), query, mutation, me_type, user_type, post_type, convert_names_case=True
    )

"""Posts in DynamoDB. Every write is one conditional call: owner and version are checked by DynamoDB itself."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from apikit.config import get_settings
from apikit.errors import Forbidden, NotFound, PreconditionFailed
from apikit.repositories import batch_get, dynamodb, error_code
from apikit.repositories.pages import ShardedListing, query_page
from apikit.validation import MULTILINE, NOT_BLANK

# A title needs a character that is not a space; content may hold tabs and line breaks (no other control character).
Title = Annotated[str, Field(min_length=1, max_length=200), NOT_BLANK]
Content = Annotated[str, Field(max_length=20_000), MULTILINE]

# GSIs declared in template.yaml. All posts are listed from ByShard: its partition key, SHARD, spreads them over
# POSTS_LIST_SHARDS partitions (`post#0`, `post#1`, ...) chosen by a hash of the id, so no partition takes every
# write; a page queries each shard and merges them (pages.ShardedListing). It projects KEYS_ONLY: the page's posts
# are then read in one BatchGetItem, so a post's content is stored once more (ByAuthor), not twice.
# ByCreatedAt (every post's `entity` is "post": one partition) is what stacks created before ByShard list from
# until scripts/backfill_list_shards.py has given their posts a shard (docs/scale.md, "Migrating").
SHARD = "list_shard"
INDEX_SHARDED = "ByShard"
INDEX_ALL = "ByCreatedAt"
ENTITY = "post"
INDEX_AUTHOR = "ByAuthor"
_CURSOR_KEYS = {INDEX_ALL: {"id", "entity", "created_at"}, INDEX_AUTHOR: {"id", "author_id", "created_at"}}
_SHARD_KEYS = {"id", SHARD, "created_at"}


_EXAMPLE: dict[str, JsonValue] = {
    "title": "Hello, Lambda",
    "content": "One function per route, one table, one template.",
}


class PostPath(BaseModel):
    """The `{id}` of /api/posts/{id}: a post id is a lowercase UUID."""

    NOT_FOUND: ClassVar[str] = "No post has this id."  # the 404 detail for a path that does not fit

    id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", max_length=36)


class PostInput(BaseModel):
    """Body of POST and PUT."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [_EXAMPLE]})
    title: Title
    content: Content


def _absent_not_null(schema: dict[str, Any]) -> None:
    """PATCH fields may be left out but never be null (a merge patch's null would remove them): say so."""
    for field in schema["properties"].values():
        field.update(next(option for option in field.pop("anyOf") if option.get("type") != "null"))
        field.pop("default", None)
    schema["examples"] = [{"title": "A new title"}]


class PostPatch(BaseModel):
    """Body of PATCH (JSON merge patch): any subset of the fields."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=lambda schema: _absent_not_null(schema))
    title: Title | None = None
    content: Content | None = None

    @field_validator("title", "content", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # In a merge patch null means "remove", and a post cannot lose its title or content.
        if value is None:
            raise ValueError("a post field cannot be removed")
        return value

    def changes(self) -> dict[str, str]:
        # The fields the patch sets: never None, which _not_null refuses.
        return self.model_dump(exclude_unset=True)


class Post(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "3f1c2a9e-8b7d-4e21-9a6f-0c5d2e7b1a44",
                    **_EXAMPLE,
                    "author_id": "5b0e7c1d-2f3a-4b5c-8d9e-0a1b2c3d4e5f",
                    "created_at": "2026-11-27T10:00:00.000000Z",
                    "updated_at": "2026-11-27T10:00:00.000000Z",
                }
            ]
        }
    )
    id: str
    title: str
    content: str
    author_id: str
    created_at: str
    updated_at: str
    version: int = Field(exclude=True)


class PostPage(BaseModel):
    items: list[Post]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _to_post(item: dict[str, Any]) -> Post:
    return Post(
        id=item["id"]["S"],
        title=item["title"]["S"],
        content=item["content"]["S"],
        author_id=item["author_id"]["S"],
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        version=int(item["version"]["N"]),
    )


def _key(post_id: str) -> dict[str, Any]:
    return {"id": {"S": post_id}}


def shard_of(post_id: str, shards: int) -> str:
    """The ByShard partition a post is listed in: a hash of its id, so posts spread evenly whatever their ids."""
    number = int.from_bytes(hashlib.sha256(post_id.encode()).digest()[:8], "big")
    return f"{ENTITY}#{number % shards}"


def is_post_id(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


class PostsRepository:
    @property
    def table(self) -> str:
        return get_settings().posts_table

    def create(self, author_id: str, data: PostInput) -> Post:
        now = _now()
        post = Post(
            id=str(uuid.uuid4()), author_id=author_id, created_at=now, updated_at=now, version=1, **data.model_dump()
        )
        settings = get_settings()
        item = {
            "id": {"S": post.id},
            SHARD: {"S": shard_of(post.id, settings.posts_list_shards)},
            "title": {"S": post.title},
            "content": {"S": post.content},
            "author_id": {"S": post.author_id},
            "created_at": {"S": post.created_at},
            "updated_at": {"S": post.updated_at},
            "version": {"N": "1"},
        }
        if settings.posts_list_index == INDEX_ALL:  # still listed from the old index while the stack migrates
            item["entity"] = {"S": ENTITY}
        dynamodb().put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(id)")
        return post

    def get(self, post_id: str) -> Post:
        if not is_post_id(post_id):
            raise NotFound(PostPath.NOT_FOUND)
        item = dynamodb().get_item(TableName=self.table, Key={"id": {"S": post_id}}).get("Item")
        if item is None:
            raise NotFound(PostPath.NOT_FOUND)
        return _to_post(item)

    def page(self, limit: int, cursor: str | None = None, author_id: str | None = None) -> PostPage:
        if author_id is None and get_settings().posts_list_index != INDEX_ALL:
            return self._sharded_page(limit, cursor)
        # One partition: an author's posts (one author does not write 1,000 posts a second), or the old index.
        index = INDEX_AUTHOR if author_id is not None else INDEX_ALL
        partition = ("author_id", author_id) if author_id is not None else ("entity", ENTITY)
        items, next_cursor = query_page(self.table, index, _CURSOR_KEYS[index], partition, limit, cursor)
        return PostPage(items=[_to_post(item) for item in items], next_cursor=next_cursor)

    def _sharded_page(self, limit: int, cursor: str | None) -> PostPage:
        shards = [f"{ENTITY}#{number}" for number in range(get_settings().posts_list_shards)]
        listing = ShardedListing(self.table, INDEX_SHARDED, _SHARD_KEYS, SHARD, "created_at", shards, limit, cursor)
        posts: list[Post] = []
        # A post deleted since the index listed it is not read back: the page takes the next one in its place.
        while len(posts) < limit and (keys := listing.take(limit - len(posts))):
            posts += self._read_many([key["id"]["S"] for key in keys])
        return PostPage(items=posts, next_cursor=listing.next_cursor())

    def _read_many(self, post_ids: list[str]) -> list[Post]:
        """The posts of `post_ids` that exist, in that order, in one BatchGetItem (up to 100 ids, a page's most)."""
        unique = list(dict.fromkeys(post_ids))
        found = {
            item["id"]["S"]: _to_post(item) for item in batch_get(self.table, [_key(post_id) for post_id in unique])
        }
        return [found[post_id] for post_id in unique if post_id in found]

    def update(self, post_id: str, caller_id: str, changes: dict[str, str], if_match: list[int] | None = None) -> Post:
        """Set the given fields in one conditional UpdateItem; `if_match` lists the versions the caller accepts.

        A write that changes nothing is no new version: the condition also requires one field to differ, and when
        only that part fails, the post is answered as it is (DynamoDB returns it with the failure, so this costs
        no read). With no fields at all there is nothing to write: one consistent read, and the same checks.
        """
        if not changes:
            return self._unchanged(post_id, caller_id, if_match)
        names = {"#version": "version", "#updated_at": "updated_at"}
        values: dict[str, Any] = {":one": {"N": "1"}, ":now": {"S": _now()}}
        assignments = ["#updated_at = :now", "#version = #version + :one"]
        for field, value in changes.items():
            names[f"#{field}"] = field
            values[f":{field}"] = {"S": value}
            assignments.append(f"#{field} = :{field}")
        condition, names, values = self._write_condition(caller_id, if_match, names, values)
        condition += " AND (" + " OR ".join(f"#{field} <> :{field}" for field in changes) + ")"
        try:
            response = self._conditional(
                "update_item",
                post_id,
                Key={"id": {"S": post_id}},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except _ConditionFailed as failed:
            return self._as_it_is(failed.item, caller_id, if_match, failed.__cause__)
        return _to_post(response["Attributes"])

    def delete(self, post_id: str, caller_id: str, if_match: list[int] | None = None) -> None:
        condition, names, values = self._write_condition(caller_id, if_match, {}, {})
        try:
            self._conditional(
                "delete_item",
                post_id,
                Key={"id": {"S": post_id}},
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except _ConditionFailed as failed:
            # DynamoDB refused the item it hands back; the same checks on it raise the reason: 404, 403 or 412.
            self._as_it_is(failed.item, caller_id, if_match, failed.__cause__)
            raise  # not reached: both sides check the same conditions on the same item

    def _unchanged(self, post_id: str, caller_id: str, if_match: list[int] | None) -> Post:
        """A write of no fields: the post as it is, if the caller could have written it. DynamoDB has no conditional
        read and nothing is to be written, so the checks run here, on a strongly consistent read."""
        if not is_post_id(post_id):
            raise NotFound(PostPath.NOT_FOUND)
        item = dynamodb().get_item(TableName=self.table, Key={"id": {"S": post_id}}, ConsistentRead=True).get("Item")
        return self._as_it_is(item, caller_id, if_match)

    @staticmethod
    def _as_it_is(
        item: dict[str, Any] | None, caller_id: str, if_match: list[int] | None, cause: BaseException | None = None
    ) -> Post:
        """The post, if the write's checks pass on it; else why not: 404, 403 or 412, in that order."""
        if item is None:
            raise NotFound(PostPath.NOT_FOUND) from cause
        if item["author_id"]["S"] != caller_id:
            raise Forbidden("Only the author may change this post.") from cause
        post = _to_post(item)
        if if_match is not None and post.version not in if_match:
            raise PreconditionFailed("The post has changed since the given If-Match version.") from cause
        return post

    @staticmethod
    def _write_condition(
        caller_id: str, if_match: list[int] | None, names: dict[str, str], values: dict[str, Any]
    ) -> tuple[str, dict[str, str], dict[str, Any]]:
        names = {**names, "#id": "id", "#author_id": "author_id"}
        values = {**values, ":caller": {"S": caller_id}}
        condition = "attribute_exists(#id) AND #author_id = :caller"
        if if_match is not None:
            names["#version"] = "version"
            placeholders = []
            for position, version in enumerate(if_match or [-1]):  # an If-Match no version satisfies
                values[f":v{position}"] = {"N": str(version)}
                placeholders.append(f":v{position}")
            condition += f" AND #version IN ({', '.join(placeholders)})"
        return condition, names, values

    def _conditional(self, operation: str, post_id: str, **request: Any) -> Any:
        if not is_post_id(post_id):
            raise NotFound(PostPath.NOT_FOUND)
        try:
            return getattr(dynamodb(), operation)(
                TableName=self.table, ReturnValuesOnConditionCheckFailure="ALL_OLD", **request
            )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            # DynamoDB hands back the item as it was, so the reason costs no extra read.
            raise _ConditionFailed(error.response.get("Item")) from error


class _ConditionFailed(Exception):
    """A conditional write DynamoDB refused, with the item as it was then (None: there was none)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__()  # no message: update and delete always catch it and read only the item
        self.item = item

"""Cursor pagination, newest first: the one implementation every list endpoint uses, and the one place cursors are
signed and verified.

A cursor is a position in one list, signed by the API and bound to that list:

    cursor  = base64url(payload || tag), without padding (URL-safe as it is)
    tag     = HMAC-SHA256(key, context || "\\n" || payload), its first 16 bytes
    context = ["cursor/1", "dynamodb", table, index, partition attribute, partition value]   a DynamoDB index
              ["cursor/1", "s3", bucket, prefix]                                            an S3 prefix

- The context is never sent: the server rebuilds it from the request it is answering. A cursor taken from another
  list (all posts, one author's posts, one user's orders or files), from another user, or from another table,
  index or bucket does not verify, and neither does one changed in any byte or one written by hand. Each is the
  same 400, "The cursor is invalid.", and never reaches DynamoDB or S3. The context is JSON (no raw newline), so
  context and payload cannot be shifted into one another.
- The payload is the least that names the position. For an index: the LastEvaluatedKey's values other than the
  partition's (which is the request's own), in the order of their attribute names, each as a 2-byte length and
  its UTF-8 bytes, never escaped; for an S3 prefix, the last key's UTF-8 after the prefix. A post's cursor is
  111 characters; the longest any list gives (an order whose Stripe id is 255 four-byte characters) 1,414, inside
  the `cursor` query parameter's 2,048 (validation.PageQuery). Values over DynamoDB's 1,024 bytes for a key
  attribute are still refused after the signature checks, in case the key ever leaks.
- The key is the CursorKey secret (`CURSOR_KEY_ARN`, granted only to the list functions), read with
  apikit.secrets.get_secret, so cached SECRET_CACHE_SECONDS; a list whose answer has no next page and whose request
  has no cursor never reads it. Replacing the key ends every cursor in flight: clients get the 400 and start again
  from the first page (for up to the cache period, containers still on the old key refuse the new key's cursors).
- 128 bits of tag are enough: without the key a tag cannot be computed offline, so a forger can only send guesses,
  one request each (and rate-limited), and each succeeds with probability 2^-128. Collisions (birthday bounds) do
  not help: they need tags the forger can compute. RFC 2104 section 5 asks for at least half the hash's output
  (128 of SHA-256's 256 bits) and at least 80 bits; NIST SP 800-107 allows truncating an HMAC to this length.
- The base64 must be the one canonical spelling (no stray characters, padding or set unused bits), so no two
  strings are the same cursor; tags are compared with hmac.compare_digest.

A list spread over several partitions (write sharding: ShardedListing) has one position per shard in its cursor,
bound to the list of shards (context ["cursor/1", "dynamodb-shards", table, index, attribute, shard, ...]): a
cursor from before the shard count changed is the same 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from apikit.encoding import base64url
from apikit.errors import BadRequest
from apikit.repositories import dynamodb
from apikit.secrets import get_secret

INVALID_CURSOR = "The cursor is invalid."
KEY_VARIABLE = "CURSOR_KEY_ARN"
TAG_BYTES = 16  # HMAC-SHA256 truncated to 128 bits
VERSION = "cursor/1"  # in every context: a new format's cursors never verify as this one's
MAX_KEY_VALUE_BYTES = 1024  # DynamoDB's limit for a key attribute (a range key) and S3's for an object key


@lru_cache(maxsize=256)
def _bound(context: tuple[str, ...]) -> bytes:
    """What a tag binds the payload to: the context as JSON (which never holds a raw newline), then a newline."""
    return json.dumps([VERSION, *context], separators=(",", ":")).encode() + b"\n"


def _tag(context: tuple[str, ...], payload: bytes) -> bytes:
    return hmac.digest(get_secret(KEY_VARIABLE).encode(), _bound(context) + payload, hashlib.sha256)[:TAG_BYTES]


def opaque(payload: bytes, context: tuple[str, ...]) -> str:
    """A cursor as clients see it: the payload and its tag, bound to `context`."""
    return base64url(payload + _tag(context, payload))


def unopaque(cursor: str, context: tuple[str, ...]) -> bytes:
    """The payload inside a cursor this API signed for `context`, or a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as error:
        raise BadRequest(INVALID_CURSOR) from error
    if len(raw) <= TAG_BYTES or base64url(raw) != cursor:
        raise BadRequest(INVALID_CURSOR)
    payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(context, payload)):
        raise BadRequest(INVALID_CURSOR)
    return payload


def _context(table: str, index: str, partition: tuple[str, str]) -> tuple[str, ...]:
    return ("dynamodb", table, index, *partition)


def _names(keys: set[str], partition: tuple[str, str]) -> list[str]:
    """The attributes a cursor carries, in its order: the LastEvaluatedKey's, less the partition's."""
    return sorted(keys - {partition[0]})


def _pack(key: dict[str, Any], names: list[str]) -> bytes:
    """A key's values of `names`, in that order, each as a 2-byte length and its UTF-8."""
    payload = bytearray()
    for name in names:
        value = key[name]["S"].encode()
        payload += len(value).to_bytes(2, "big") + value
    return bytes(payload)


def _unpack(payload: bytes, position: int, names: list[str], key: dict[str, Any]) -> int:
    """Read `names`' values into `key` from `payload` at `position`; where they end, or a 400."""
    try:
        for name in names:
            length = int.from_bytes(payload[position : position + 2], "big")
            value = payload[position + 2 : position + 2 + length]
            if len(value) != length or not 0 < length <= MAX_KEY_VALUE_BYTES:
                raise BadRequest(INVALID_CURSOR)
            key[name] = {"S": value.decode()}
            position += 2 + length
    except UnicodeDecodeError as error:
        raise BadRequest(INVALID_CURSOR) from error
    return position


def encode_cursor(key: dict[str, Any], table: str, index: str, keys: set[str], partition: tuple[str, str]) -> str:
    """A LastEvaluatedKey of `index`'s `partition` (string attributes `keys`) as a signed cursor."""
    if set(key) != keys or key[partition[0]] != {"S": partition[1]}:
        raise ValueError(f"a LastEvaluatedKey of {index} with {sorted(key)}, not {sorted(keys)} in its partition")
    return opaque(_pack(key, _names(keys, partition)), _context(table, index, partition))


def decode_cursor(cursor: str, table: str, index: str, keys: set[str], partition: tuple[str, str]) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor of this very list names, or a 400."""
    payload = unopaque(cursor, _context(table, index, partition))
    key: dict[str, Any] = {partition[0]: {"S": partition[1]}}
    if _unpack(payload, 0, _names(keys, partition), key) != len(payload):
        raise BadRequest(INVALID_CURSOR)
    return key


def query_page(
    table: str, index: str, keys: set[str], partition: tuple[str, str], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `index`'s `partition`, newest first (the index's sort key), and the next page's cursor.

    `keys` are the attributes of the index's LastEvaluatedKey: the table's key plus the index's key, all strings.
    """
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": partition[0]},
        "ExpressionAttributeValues": {":pk": {"S": partition[1]}},
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if cursor is not None:
        query["ExclusiveStartKey"] = decode_cursor(cursor, table, index, keys, partition)
    result = dynamodb().query(**query)  # Items always, [] when none match
    last_key = result.get("LastEvaluatedKey")
    return result["Items"], encode_cursor(last_key, table, index, keys, partition) if last_key else None


# --- one list over several partitions -----------------------------------------------------------------------------

# A shard's position in a cursor: its first byte, then (AFTER only) the key of the last item a page took from it.
START, AFTER, DONE = 0, 1, 2


@dataclass
class _Shard:
    name: str
    after: dict[str, Any] | None = None  # the last item taken from it: the next query starts after it
    finished: bool = False  # its last query reached its end: `buffer` holds all that is left of it
    buffer: deque[dict[str, Any]] = field(default_factory=deque)  # queried, not yet taken, newest first


@cache
def _pool() -> ThreadPoolExecutor:
    # Created on first use and kept for the execution environment's life; botocore clients are thread-safe.
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="shard-query")


class ShardedListing:
    """One list, newest first, over the partitions ("shards") `shards` of `index`, whose partition key is
    `attribute` and sort key `sort_key`: writes spread over them, a read queries each and merges.

    Each page queries every shard that is not done, in parallel, for one more item than the page holds (the most one
    shard can give it, and one to tell whether the shard has more), merges them by `sort_key` and takes `limit`
    items. The cursor records, per shard, the key of the last item taken from it (items a page queried but did not
    take are queried again by the next page), and the sort key of the last item the walk took: a shard nothing was
    taken from yet resumes there, not at its own start, where a post written since would come first. So pages are
    complete and in order whatever the shards hold and whatever is written between them; on the last page every
    shard is done and the cursor is null. `keys` are the attributes of the index's keys (the
    table's key and the index's), all strings: the items a query gives (KEYS_ONLY) and the start keys it takes.
    """

    def __init__(
        self,
        table: str,
        index: str,
        keys: set[str],
        attribute: str,
        sort_key: str,
        shards: Sequence[str],
        limit: int,
        cursor: str | None,
    ) -> None:
        self.table, self.index, self.attribute, self.sort_key, self.limit = table, index, attribute, sort_key, limit
        self.names = sorted(keys - {attribute})  # what a position holds: the shard's own name is its place
        self.context = ("dynamodb-shards", table, index, attribute, *shards)
        self.shards = [_Shard(name) for name in shards]
        self.boundary: str | None = None  # the sort key of the last item taken, on this page or an earlier one
        if cursor is not None:
            self._restore(unopaque(cursor, self.context))

    def take(self, count: int) -> list[dict[str, Any]]:
        """The next `count` keys of the list, newest first (fewer at its end)."""
        taken: list[dict[str, Any]] = []
        while len(taken) < count:
            self._refill()
            if not any(shard.buffer for shard in self.shards):
                break  # every shard is done
            # An item may be taken only while every shard that has more shows its next one: then it is the newest.
            while len(taken) < count and all(shard.buffer or shard.finished for shard in self.shards):
                showing = [shard for shard in self.shards if shard.buffer]
                if not showing:
                    break
                newest = max(showing, key=lambda shard: shard.buffer[0][self.sort_key]["S"])  # ties: the first
                newest.after = newest.buffer.popleft()
                self.boundary = newest.after[self.sort_key]["S"]
                taken.append(newest.after)
        return taken

    def next_cursor(self) -> str | None:
        """Where the next page starts, or None when every shard is done."""
        states = [self._state(shard) for shard in self.shards]
        if all(state == DONE for state in states):
            return None
        assert self.boundary is not None  # a page that leaves a shard not done has taken an item
        payload = bytearray(_pack({self.sort_key: {"S": self.boundary}}, [self.sort_key]))
        for shard, state in zip(self.shards, states, strict=True):
            payload.append(state)
            if state == AFTER:
                assert shard.after is not None
                payload += _pack(shard.after, self.names)
        return opaque(bytes(payload), self.context)

    @staticmethod
    def _state(shard: _Shard) -> int:
        if shard.finished and not shard.buffer:
            return DONE
        return START if shard.after is None else AFTER

    def _restore(self, payload: bytes) -> None:
        boundary: dict[str, Any] = {}
        position = _unpack(payload, 0, [self.sort_key], boundary)
        self.boundary = boundary[self.sort_key]["S"]
        for shard in self.shards:
            if position >= len(payload) or payload[position] not in (START, AFTER, DONE):
                raise BadRequest(INVALID_CURSOR)
            state, position = payload[position], position + 1
            shard.finished = state == DONE
            if state == AFTER:
                shard.after = {self.attribute: {"S": shard.name}}
                position = _unpack(payload, position, self.names, shard.after)
        if position != len(payload):
            raise BadRequest(INVALID_CURSOR)

    def _refill(self) -> None:
        empty = [shard for shard in self.shards if not shard.buffer and not shard.finished]
        if len(empty) == 1:
            self._query(empty[0])
        elif empty:
            list(_pool().map(self._query, empty))  # list(): re-raises a failed query's error here

    def _query(self, shard: _Shard) -> None:
        query: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": self.index,
            "KeyConditionExpression": "#shard = :shard",
            "ExpressionAttributeNames": {"#shard": self.attribute},
            "ExpressionAttributeValues": {":shard": {"S": shard.name}},
            "ScanIndexForward": False,
            "Limit": self.limit + 1,
        }
        if shard.after is not None:
            query["ExclusiveStartKey"] = {name: shard.after[name] for name in (*self.names, self.attribute)}
        elif self.boundary is not None:  # nothing taken from it yet: only what is not newer than the walk's place
            query["KeyConditionExpression"] += " AND #sort <= :boundary"
            query["ExpressionAttributeNames"]["#sort"] = self.sort_key
            query["ExpressionAttributeValues"][":boundary"] = {"S": self.boundary}
        result = dynamodb().query(**query)
        shard.buffer.extend(result["Items"])
        shard.finished = "LastEvaluatedKey" not in result

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
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from functools import lru_cache
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


def encode_cursor(key: dict[str, Any], table: str, index: str, keys: set[str], partition: tuple[str, str]) -> str:
    """A LastEvaluatedKey of `index`'s `partition` (string attributes `keys`) as a signed cursor."""
    if set(key) != keys or key[partition[0]] != {"S": partition[1]}:
        raise ValueError(f"a LastEvaluatedKey of {index} with {sorted(key)}, not {sorted(keys)} in its partition")
    payload = bytearray()
    for name in _names(keys, partition):
        value = key[name]["S"].encode()
        payload += len(value).to_bytes(2, "big") + value
    return opaque(bytes(payload), _context(table, index, partition))


def decode_cursor(cursor: str, table: str, index: str, keys: set[str], partition: tuple[str, str]) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor of this very list names, or a 400."""
    payload = unopaque(cursor, _context(table, index, partition))
    key: dict[str, Any] = {partition[0]: {"S": partition[1]}}
    position = 0
    try:
        for name in _names(keys, partition):
            length = int.from_bytes(payload[position : position + 2], "big")
            value = payload[position + 2 : position + 2 + length]
            if len(value) != length or not 0 < length <= MAX_KEY_VALUE_BYTES:
                raise BadRequest(INVALID_CURSOR)
            key[name] = {"S": value.decode()}
            position += 2 + length
    except UnicodeDecodeError as error:
        raise BadRequest(INVALID_CURSOR) from error
    if position != len(payload):
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

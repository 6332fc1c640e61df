"""Pagination cursors are signed and bound to the list they came from (apikit.repositories.pages).

A client can only hand back a cursor the API gave it, for the same list: the same index and partition (posts of
all authors, posts of one author, one user's orders) or the same S3 prefix (one user's files). A cursor built by
hand, even from a key that exists, one changed in any character or byte, one from another list or another user,
and one signed with a key the stack no longer has are all the same 400 problem+json: "The cursor is invalid."
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devserver.template import bucket_name, load_template, resources_of_type
from tests.conftest import CURSOR_KEY, ROOT, Result, _client, assert_problem, bearer, invoke, load_event

BUCKET = bucket_name("UploadsBucket")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # base64url
MAX_CURSOR = 2048  # apikit.validation.PageQuery's cursor max_length
# The functions that page through lists; GraphQL pages through posts and orders as REST does.
LIST_FUNCTIONS = {"PostsListFunction", "OrdersListFunction", "UploadsListFunction", "GraphqlFunction"}


def list_posts(**query: str) -> Result:
    return invoke("posts_list", load_event("posts_list/get.json", query=query))


def list_orders(user: str, **query: str) -> Result:
    return invoke(
        "orders_list", load_event("orders_list/get.json", headers={"authorization": bearer(user)}, query=query)
    )


def list_uploads(user: str, **query: str) -> Result:
    return invoke(
        "uploads_list", load_event("uploads_list/get.json", headers={"authorization": bearer(user)}, query=query)
    )


def next_cursor(result: Result) -> str:
    assert result.status == 200, result.body
    cursor = result.json()["next_cursor"]
    assert isinstance(cursor, str)
    return cursor


def assert_invalid_cursor(result: Result) -> None:
    assert assert_problem(result, 400)["detail"] == "The cursor is invalid."


def hand_built(text: str) -> str:
    """What today's format let anyone write: base64url of the key, without padding."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def boto3_item(post_id: str) -> dict[str, Any]:
    return _client("dynamodb").get_item(TableName="PostsTable", Key={"id": {"S": post_id}})["Item"]


def dynamodb_key(**attributes: str) -> str:
    return hand_built(json.dumps({name: {"S": value} for name, value in attributes.items()}))


@pytest.fixture
def posts(create_post) -> list[dict[str, Any]]:
    """Six posts, oldest first: alice wrote the even ones, bob the odd ones."""
    return [create_post(author="alice" if n % 2 == 0 else "bob", title=f"post {n}") for n in range(6)]


@pytest.fixture
def orders(aws: None) -> None:
    """Three orders each for alice and bob, a minute apart."""
    from apikit.repositories.orders import CheckoutSession, OrdersRepository

    for n in range(6):
        user = "alice" if n % 2 == 0 else "bob"
        session = CheckoutSession(id=f"cs_test_{n}", client_reference_id=user, created=1796035800 + 60 * n)
        OrdersRepository().record(session)


@pytest.fixture
def files(aws: None) -> dict[str, list[str]]:
    """Three files each for alice and bob in the uploads bucket, as POST /api/uploads stores them; their keys,
    newest first."""
    from apikit.repositories.uploads import new_id

    _client("s3").create_bucket(Bucket=BUCKET)
    keys: dict[str, list[str]] = {"alice": [], "bob": []}
    for n in range(6):
        user = "alice" if n % 2 == 0 else "bob"
        key = f"uploads/{user}/{new_id(1796035800000 + n)}/{n}.png"
        _client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"\x89PNG\r\n\x1a\n", ContentType="image/png")
        keys[user].insert(0, key)
    return keys


# --- a cursor the API gave works, and only where it was given -------------------------------------------------


def test_every_list_pages_with_its_own_cursors(posts, orders, files):
    post_cursor = next_cursor(list_posts(limit="2", author="alice"))
    order_cursor = next_cursor(list_orders("alice", limit="2"))
    upload_cursor = next_cursor(list_uploads("alice", limit="2"))

    assert [item["title"] for item in list_posts(limit="2", author="alice", cursor=post_cursor).json()["items"]] == [
        "post 0"
    ]
    assert [item["id"] for item in list_orders("alice", limit="2", cursor=order_cursor).json()["items"]] == [
        "cs_test_0"
    ]
    assert [item["key"] for item in list_uploads("alice", limit="2", cursor=upload_cursor).json()["items"]] == [
        files["alice"][2]
    ]
    for cursor in (post_cursor, order_cursor, upload_cursor):
        assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor), cursor  # URL-safe as it is: no padding, no escaping


@pytest.mark.parametrize(
    ("given_for", "replayed_on"),
    [
        ({"author": "alice"}, {"author": "bob"}),
        ({"author": "alice"}, {}),
        ({}, {"author": "alice"}),
        ({}, {"author": "bob"}),
    ],
)
def test_a_posts_cursor_replayed_on_another_author_or_on_all_posts_is_400(posts, given_for, replayed_on):
    cursor = next_cursor(list_posts(limit="2", **given_for))

    assert_invalid_cursor(list_posts(limit="2", cursor=cursor, **replayed_on))


def test_an_orders_cursor_is_400_for_another_user(orders):
    cursor = next_cursor(list_orders("alice", limit="2"))

    assert_invalid_cursor(list_orders("bob", limit="2", cursor=cursor))


def test_an_uploads_cursor_is_400_for_another_user(files):
    cursor = next_cursor(list_uploads("alice", limit="2"))

    assert_invalid_cursor(list_uploads("bob", limit="2", cursor=cursor))


def test_a_cursor_of_one_list_is_400_on_every_other_list(posts, orders, files):
    # Posts of alice and orders of alice page over keys of the same shape (id, created_at, alice): only what the
    # cursor is bound to tells them apart.
    given = {
        "posts": next_cursor(list_posts(limit="2")),
        "posts of alice": next_cursor(list_posts(limit="2", author="alice")),
        "orders of alice": next_cursor(list_orders("alice", limit="2")),
        "files of alice": next_cursor(list_uploads("alice", limit="2")),
    }
    lists = {
        "posts": lambda cursor: list_posts(limit="2", cursor=cursor),
        "posts of alice": lambda cursor: list_posts(limit="2", author="alice", cursor=cursor),
        "orders of alice": lambda cursor: list_orders("alice", limit="2", cursor=cursor),
        "files of alice": lambda cursor: list_uploads("alice", limit="2", cursor=cursor),
    }

    for source, cursor in given.items():
        for target, answer in lists.items():
            if target != source:
                assert_invalid_cursor(answer(cursor))


# --- a cursor the API did not give is refused --------------------------------------------------------------------


def test_a_posts_cursor_built_by_hand_from_a_real_key_is_400(posts):
    # Exactly the LastEvaluatedKey DynamoDB would give after post 3: well formed, in the queried partition.
    post = posts[3]

    shard = boto3_item(post["id"])["list_shard"]["S"]
    assert_invalid_cursor(
        list_posts(limit="2", cursor=dynamodb_key(id=post["id"], list_shard=shard, created_at=post["created_at"]))
    )
    assert_invalid_cursor(
        list_posts(
            limit="2", author="bob", cursor=dynamodb_key(id=post["id"], author_id="bob", created_at=post["created_at"])
        )
    )


def test_an_orders_cursor_built_by_hand_from_a_real_key_is_400(orders):
    # Order 4 of alice, as the webhook stored it.
    created_at = datetime.fromtimestamp(1796035800 + 240, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cursor = dynamodb_key(id="cs_test_4", user_id="alice", created_at=created_at)

    assert_invalid_cursor(list_orders("alice", limit="2", cursor=cursor))


def test_an_uploads_cursor_built_by_hand_from_a_real_key_is_400(files):
    assert_invalid_cursor(list_uploads("alice", limit="2", cursor=hand_built(files["alice"][0])))


def _changed_characters(cursor: str) -> Iterator[str]:
    for position, character in enumerate(cursor):
        replacement = ALPHABET[(ALPHABET.index(character) + 1) % len(ALPHABET)]
        yield cursor[:position] + replacement + cursor[position + 1 :]


def _changed_bytes(cursor: str) -> Iterator[str]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    for position in range(len(raw)):
        changed = raw[:position] + bytes([raw[position] ^ 0x01]) + raw[position + 1 :]
        yield base64.urlsafe_b64encode(changed).decode().rstrip("=")


def test_every_one_character_or_one_byte_change_to_a_posts_cursor_is_400(posts):
    cursor = next_cursor(list_posts(limit="2"))

    answers = {changed: list_posts(limit="2", cursor=changed) for changed in [*_changed_characters(cursor)]}
    answers |= {changed: list_posts(limit="2", cursor=changed) for changed in _changed_bytes(cursor)}
    answers |= {changed: list_posts(limit="2", cursor=changed) for changed in (cursor[:-1], cursor + "A", "A" + cursor)}

    accepted = [changed for changed, answer in answers.items() if answer.status != 400]
    assert accepted == []
    for answer in answers.values():
        assert_invalid_cursor(answer)


def test_every_one_byte_change_to_an_orders_or_uploads_cursor_is_400(orders, files):
    order_cursor = next_cursor(list_orders("alice", limit="2"))
    upload_cursor = next_cursor(list_uploads("alice", limit="2"))

    assert [c for c in _changed_bytes(order_cursor) if list_orders("alice", limit="2", cursor=c).status != 400] == []
    assert [c for c in _changed_bytes(upload_cursor) if list_uploads("alice", limit="2", cursor=c).status != 400] == []


def test_a_cursor_signed_with_another_key_is_400(posts):
    from aws_lambda_powertools.utilities import parameters

    cursor = next_cursor(list_posts(limit="2"))

    _client("secretsmanager").put_secret_value(SecretId="CursorKey", SecretString="a-brand-new-key-" + "z" * 48)
    parameters.clear_caches()  # as every container will have done SECRET_CACHE_SECONDS after the rotation

    assert_invalid_cursor(list_posts(limit="2", cursor=cursor))
    assert list_posts(limit="2", cursor=next_cursor(list_posts(limit="2"))).status == 200


# --- a cursor signed right holds a key of any length, and nothing but a key -------------------------------------

ALICES_POSTS = ("dynamodb", "PostsTable", "ByAuthor", "author_id", "alice")  # GET /api/posts?author=alice's cursors
SHARDS = tuple(f"post#{number}" for number in range(16))
ALL_POSTS = ("dynamodb-shards", "PostsTable", "ByShard", "list_shard", *SHARDS)  # GET /api/posts's, one per shard
FILES_OF_ALICE = ("s3", BUCKET, "uploads/alice/")
CREATED_AT = b"2026-11-27T10:00:00.000000Z"
POST_ID = b"3f1c2a9e-8b7d-4e21-9a6f-0c5d2e7b1a44"
UPLOAD_ID = b"7e5b2d8c-1f00-8a3b-9c4d-5e6f708192a3"


def signed(payload: bytes, context: tuple[str, ...]) -> str:
    """`payload` signed with the stack's CursorKey for `context`, as apikit.repositories.pages signs: a cursor only a
    bug in the API, or its key leaking, would hand out."""
    bound = json.dumps(["cursor/1", *context], separators=(",", ":")).encode() + b"\n"
    tag = hmac.digest(CURSOR_KEY.encode(), bound + payload, hashlib.sha256)[:16]
    return base64.urlsafe_b64encode(payload + tag).decode().rstrip("=")


def field(value: bytes) -> bytes:
    """One value of a key in a cursor's payload: its length in 2 bytes, then its UTF-8."""
    return len(value).to_bytes(2, "big") + value


NO_POST_KEYS = [
    b"{}",
    json.dumps({"created_at": {"S": CREATED_AT.decode()}, "id": {"S": POST_ID.decode()}}).encode(),  # a key as JSON
    json.dumps({"created_at": {"N": "1"}, "id": {"BOOL": True}, "entity": {"S": "post"}, "x": {}}).encode(),
    field(CREATED_AT),  # the id missing
    field(CREATED_AT) + field(POST_ID) + field(b"post"),  # a value too many
    field(CREATED_AT) + field(POST_ID) + b"\x00",
    field(b"") + field(POST_ID),  # an empty value
    field(CREATED_AT) + field(b"x" * 1025),  # over DynamoDB's 1,024 bytes for a key
    field(CREATED_AT) + len(POST_ID + b"!").to_bytes(2, "big") + POST_ID,  # a length past the end
    field(CREATED_AT) + field(b"\xff\xfe" + POST_ID),  # not UTF-8
]
START, AFTER, DONE = b"\x00", b"\x01", b"\x02"  # a shard's position: from its newest, after a key, or done
NO_POSITIONS = [
    b"",  # no shard at all
    START * 15,  # a shard missing
    START * 17,  # a shard too many
    START * 15 + b"\x03",  # no such state
    AFTER + field(CREATED_AT) + START * 15,  # a key without its id
    AFTER + field(CREATED_AT) + field(POST_ID) + field(b"post#0") + START * 15,  # a value too many
    DONE * 16 + b"\x00",  # a byte past the last shard
    AFTER + field(b"") + field(POST_ID) + START * 15,  # an empty value
    AFTER + field(CREATED_AT) + field(b"x" * 1025) + START * 15,  # over DynamoDB's 1,024 bytes for a key
    AFTER + field(CREATED_AT) + field(b"\xff\xfe" + POST_ID) + START * 15,  # not UTF-8
    START * 15 + AFTER + field(CREATED_AT),  # the last shard's key cut short
]
NO_UPLOAD_KEYS = [
    b"{}",
    b"\xff\xfe",  # not UTF-8
    UPLOAD_ID,  # no name
    UPLOAD_ID + b"/",
    b"not-an-id/y.png",
    b"../bob/" + UPLOAD_ID + b"/y.png",
    UPLOAD_ID + b"/a\x00b.png",  # no name this API stores
    UPLOAD_ID + b"/" + "\u732b".encode() * 400,  # nor this: a name is at most 200 bytes
]


def test_a_signed_cursor_whose_payload_is_no_key_of_its_list_is_400_not_500(posts, files):
    """Signed as the API signs, so each reaches the payload's decoding (one loop rather than a test per payload: a
    test's moto set-up costs more than its checks)."""
    for cursor, context in (
        (next_cursor(list_posts(limit="2")), ALL_POSTS),
        (next_cursor(list_posts(limit="2", author="alice")), ALICES_POSTS),
        (next_cursor(list_uploads("alice", limit="2")), FILES_OF_ALICE),
    ):
        assert signed(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))[:-16], context) == cursor

    answers = [(payload, list_posts(limit="2", cursor=signed(payload, ALL_POSTS))) for payload in NO_POSITIONS]
    answers += [
        (payload, list_posts(limit="2", author="alice", cursor=signed(payload, ALICES_POSTS)))
        for payload in NO_POST_KEYS
    ]
    answers += [
        (payload, list_uploads("alice", limit="2", cursor=signed(payload, FILES_OF_ALICE)))
        for payload in NO_UPLOAD_KEYS
    ]
    # A stored name's 200 bytes, under a prefix so long (a user id of 66 four-byte characters, percent-encoded: 801
    # bytes) that the key is over S3's 1,024 bytes.
    owner = "\U0001f600" * 66
    prefix = f"uploads/{'%F0%9F%98%80' * 66}/"
    too_long = UPLOAD_ID + b"/" + b"n" * 200
    answers.append((too_long, list_uploads(owner, limit="2", cursor=signed(too_long, ("s3", BUCKET, prefix)))))

    assert [payload for payload, answer in answers if answer.status != 400] == []
    for _, answer in answers:
        assert_invalid_cursor(answer)


def test_a_posts_cursor_round_trips_for_every_length_of_its_values(aws):
    """Every length from 1 to DynamoDB's 1,024 bytes, in 1- to 4-byte characters: each padding base64 can need, and
    lengths that need both bytes of a value's length; one byte more is refused."""
    from apikit.errors import BadRequest
    from apikit.repositories.pages import decode_cursor, encode_cursor

    posts = ("PostsTable", "ByCreatedAt", {"id", "entity", "created_at"}, ("entity", "post"))
    lengths = set()
    for size in range(1, 1025):
        for character in ("x", "\u00e9", "\u732b", "\U0001f600"):
            value = character * (size // len(character.encode())) + "x" * (size % len(character.encode()))
            key = {"entity": {"S": "post"}, "id": {"S": value}, "created_at": {"S": CREATED_AT.decode()}}
            cursor = encode_cursor(key, *posts)
            assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor), cursor
            assert decode_cursor(cursor, *posts) == key
            lengths.add(len(cursor) % 4)
    assert lengths == {0, 2, 3}  # unpadded, and what needed "=" and "==" (no base64 is 1 mod 4)

    longer = {"entity": {"S": "post"}, "id": {"S": "x" * 1025}, "created_at": {"S": CREATED_AT.decode()}}
    with pytest.raises(BadRequest):
        decode_cursor(encode_cursor(longer, *posts), *posts)


def test_an_uploads_cursor_round_trips_for_every_length_of_a_name(aws):
    from apikit.repositories.uploads import decode_cursor, encode_cursor

    prefix = "uploads/alice/"
    lengths = set()
    for size in range(1, 201):  # a stored name's 200 bytes at most (apikit.files.NAME_MAX_BYTES)
        key = f"{prefix}{UPLOAD_ID.decode()}/{'n' * size}"
        cursor = encode_cursor(key, BUCKET, prefix)
        assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor), cursor
        assert decode_cursor(cursor, BUCKET, prefix) == key
        lengths.add(len(cursor) % 4)
    assert lengths == {0, 2, 3}


def test_an_uploads_cursor_holds_a_key_of_up_to_s3s_1024_bytes(aws):
    from apikit.errors import BadRequest
    from apikit.repositories.uploads import decode_cursor, encode_cursor

    for size in (1024, 1025):
        prefix = "uploads/" + "u" * (size - len("uploads//") - len(UPLOAD_ID) - len("/") - 200) + "/"
        key = f"{prefix}{UPLOAD_ID.decode()}/{'n' * 200}"
        assert len(key.encode()) == size
        cursor = encode_cursor(key, BUCKET, prefix)
        if size <= 1024:
            assert decode_cursor(cursor, BUCKET, prefix) == key
        else:
            with pytest.raises(BadRequest, match=r"^The cursor is invalid\.$"):
                decode_cursor(cursor, BUCKET, prefix)


def test_a_cursor_that_is_a_signature_alone_is_400(aws):
    """Signed for its list, but with no payload: no position at all."""
    from apikit.errors import BadRequest
    from apikit.repositories.pages import unopaque

    with pytest.raises(BadRequest, match=r"^The cursor is invalid\.$"):
        unopaque(signed(b"", ALICES_POSTS), ALICES_POSTS)
    assert unopaque(signed(b"x", ALICES_POSTS), ALICES_POSTS) == b"x"


@pytest.mark.parametrize("cursor", ["A", "AAAAA", "caf\u00e9"], ids=["one-character", "five-characters", "not-ascii"])
def test_a_cursor_that_is_not_base64_at_all_is_400(aws, cursor):
    assert_invalid_cursor(list_posts(limit="2", cursor=cursor))


def test_a_last_evaluated_key_of_another_index_or_partition_is_never_signed():
    """A bug, not a client's mistake: raised before any cursor is made of it."""
    from apikit.repositories.pages import encode_cursor

    posts = ("PostsTable", "ByCreatedAt", {"id", "entity", "created_at"}, ("entity", "post"))
    key = {"entity": {"S": "post"}, "id": {"S": POST_ID.decode()}, "created_at": {"S": CREATED_AT.decode()}}
    for wrong, names in (
        ({**key, "entity": {"S": "page"}}, "['created_at', 'entity', 'id']"),  # another partition
        ({name: key[name] for name in ("entity", "created_at")}, "['created_at', 'entity']"),  # an attribute missing
        ({**key, "author": {"S": "alice"}}, "['author', 'created_at', 'entity', 'id']"),  # another index's key
    ):
        message = f"a LastEvaluatedKey of ByCreatedAt with {names}, not ['created_at', 'entity', 'id'] in its partition"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            encode_cursor(wrong, *posts)


# --- size ---------------------------------------------------------------------------------------------------------


def test_a_posts_cursor_is_short(posts):
    # A page link stays readable: an author's cursor is a post's id and date (the partition is in the signature,
    # not repeated), plus 128 bits of signature; all posts' holds a byte per shard, and that for each shard the
    # page took posts from: two here, at most.
    assert len(next_cursor(list_posts(limit="2", author="alice"))) <= 120
    assert len(next_cursor(list_posts(limit="2"))) <= math.ceil((16 + 2 * (2 + 27 + 2 + 36) + 16) * 4 / 3)


def test_the_largest_cursors_the_api_gives_fit_the_query_parameter(aws):
    """The longest values each list's keys can hold, in 4-byte UTF-8 characters: a Stripe session id of 255
    characters (CheckoutSession), a user id long enough to fill S3's 1,024-byte key, a stored name of 200 bytes."""
    from apikit.repositories.orders import CheckoutSession, OrdersRepository
    from apikit.repositories.uploads import new_id

    user = "\U0001f600" * 200
    for n in range(2):
        OrdersRepository().record(
            CheckoutSession(id=str(n) + "\U0001d11e" * 254, client_reference_id=user, created=1796035800 + n)
        )
    order_cursor = next_cursor(list_orders(user, limit="1"))

    _client("s3").create_bucket(Bucket=BUCKET)
    owner = "%F0%9F%98%80" * 64  # the percent-encoded user id of 64 of those characters: a key of 1,014 bytes
    name = "\U0001f600" * 49 + ".png"  # 200 bytes
    for n in range(2):
        key = f"uploads/{owner}/{new_id(1796035800000 + n)}/{name}"
        _client("s3").put_object(Bucket=BUCKET, Key=key, Body=b"\x89PNG\r\n\x1a\n", ContentType="image/png")
    upload_cursor = next_cursor(list_uploads("\U0001f600" * 64, limit="1"))

    for cursor, answer in (
        (order_cursor, lambda cursor: list_orders(user, limit="1", cursor=cursor)),
        (upload_cursor, lambda cursor: list_uploads("\U0001f600" * 64, limit="1", cursor=cursor)),
    ):
        assert len(cursor) <= MAX_CURSOR
        assert answer(cursor).status == 200


def test_an_all_posts_cursor_after_a_post_in_every_shard_fits_the_query_parameter(aws):
    """The longest all-posts cursor: a position after a post in each of the 16 shards (two posts a shard, the newer
    ones first), then the next page from it."""
    from apikit.repositories.posts import shard_of

    per_shard: dict[str, list[str]] = {shard: [] for shard in SHARDS}
    for number in range(10_000):
        post_id = str(uuid.UUID(int=number, version=4))
        if len(per_shard[shard := shard_of(post_id, 16)]) < 2:
            per_shard[shard].append(post_id)
    for position, (shard, (newer, older)) in enumerate(per_shard.items()):
        for post_id, minute in ((newer, 1), (older, 0)):
            created_at = f"2026-11-27T10:0{minute}:{position:02}.000000Z"
            item = {"id": post_id, "list_shard": shard, "title": "t", "content": "c", "author_id": "alice"}
            item |= {"created_at": created_at, "updated_at": created_at}
            _client("dynamodb").put_item(
                TableName="PostsTable", Item={**{k: {"S": v} for k, v in item.items()}, "version": {"N": "1"}}
            )

    first = list_posts(limit="16")
    cursor = next_cursor(first)
    second = list_posts(limit="16", cursor=cursor)

    assert len(cursor) <= MAX_CURSOR
    assert [post["id"] for post in first.json()["items"]] == [newer for newer, _ in reversed(per_shard.values())]
    assert [post["id"] for post in second.json()["items"]] == [older for _, older in reversed(per_shard.values())]
    assert second.json()["next_cursor"] is None


# --- the key: one secret, read by the three list functions only ---------------------------------------------------


def test_the_cursor_key_is_a_generated_secret_that_only_the_list_functions_may_read():
    template = load_template(ROOT / "template.yaml")
    secret = template["Resources"]["CursorKey"]
    functions = resources_of_type(template, "AWS::Serverless::Function")
    named = {
        name
        for name, function in functions.items()
        if function["Properties"].get("Environment", {}).get("Variables", {}).get("CURSOR_KEY_ARN")
        == {"Ref": "CursorKey"}
    }
    granted = {
        name
        for name, function in functions.items()
        if {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "CursorKey"}}}
        in function["Properties"].get("Policies", [])
    }

    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32  # the dev server generates it too
    assert "CURSOR_KEY_ARN" not in template["Globals"]["Function"]["Environment"]["Variables"]
    assert named == granted == LIST_FUNCTIONS

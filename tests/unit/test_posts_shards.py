"""GET /api/posts over a write-sharded index (ByShard): pages complete and in order whatever the shards hold, cursors
bound to their list and shard count, one BatchGetItem per page, and the migration of a stack's existing posts
(scripts/backfill_list_shards.py)."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apikit.repositories import BATCH_GET_ATTEMPTS
from devserver.template import create_tables, load_template, table_properties
from tests.conftest import ROOT, Result, assert_problem, invoke, load_event

sys.path.insert(0, str(ROOT / "scripts"))
import backfill_list_shards

TABLE = "PostsTable"
EPOCH = datetime(2026, 11, 27, 10, tzinfo=UTC)


def list_posts(**query: str) -> Result:
    return invoke("posts_list", load_event("posts_list/get.json", query=query))


def client() -> Any:
    return boto3.client("dynamodb")


def put_post(post_id: str, created_at: str, *, legacy: bool = False) -> None:
    """A post as the create handler stores it, in its shard for POSTS_LIST_SHARDS (`legacy`: as releases before
    ByShard stored it, in the one partition of ByCreatedAt)."""
    from apikit.config import get_settings
    from apikit.repositories.posts import shard_of

    item = {"id": post_id, "title": "t", "content": "c", "author_id": "alice"}
    item |= {"created_at": created_at, "updated_at": created_at}
    if legacy:
        item["entity"] = "post"
    else:
        item["list_shard"] = shard_of(post_id, get_settings().posts_list_shards)
    client().put_item(TableName=TABLE, Item={**{k: {"S": v} for k, v in item.items()}, "version": {"N": "1"}})


def timestamp(microseconds: int) -> str:
    return (EPOCH + timedelta(microseconds=microseconds)).isoformat(timespec="microseconds").replace("+00:00", "Z")


@pytest.fixture
def shards(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """Set POSTS_LIST_SHARDS, as the template's PostsListShards does."""
    from apikit.config import get_settings

    def use(count: int) -> None:
        monkeypatch.setenv("POSTS_LIST_SHARDS", str(count))
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


def walk(limit: int, between: Callable[[int], None] = lambda page: None) -> list[list[dict[str, Any]]]:
    """Every page from the first to the one whose next_cursor is null; `between(n)` runs after page n."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while len(pages) < 1000:
        result = list_posts(limit=str(limit), **({"cursor": cursor} if cursor else {}))
        assert result.status == 200, result.body
        pages.append(result.json()["items"])
        cursor = result.json()["next_cursor"]
        if cursor is None:
            return pages
        between(len(pages))
    raise AssertionError("the walk never ended")


# --- pages are complete and in order -------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shard_count=st.sampled_from([1, 2, 4, 16]),
    # Microseconds after EPOCH, drawn from a narrow range so that posts share a timestamp now and then.
    times=st.lists(st.integers(min_value=0, max_value=400), max_size=45),
    limit=st.integers(min_value=1, max_value=12),
    chance=st.randoms(use_true_random=False),  # which ids, and which posts are deleted between pages
)
def test_pages_are_complete_and_newest_first_across_shards_with_writes_between_pages(
    aws, shards, shard_count, times, limit, chance
):
    """Random timestamps (ties included), shard counts and page sizes; between pages, random posts are deleted and
    new ones written. Every post never deleted is listed exactly once; no post is listed after its deletion; no post
    written during the walk is listed (it is newer than where the walk is); the walk is newest first; every page but
    the last holds exactly `limit` posts."""
    shards(shard_count)
    for item in client().scan(TableName=TABLE)["Items"]:  # hypothesis runs every example on the same table
        client().delete_item(TableName=TABLE, Key={"id": item["id"]})
    posts = {f"{n:08x}-0000-4000-8000-{chance.getrandbits(48):012x}": timestamp(t) for n, t in enumerate(times)}
    for post_id, created_at in posts.items():
        put_post(post_id, created_at)
    deleted: dict[str, int] = {}  # post id -> the page after which it was deleted

    written: set[str] = set()

    def delete_and_write_some(page: int) -> None:
        for post_id in chance.sample(sorted(posts), k=min(len(posts), chance.randrange(3))):
            client().delete_item(TableName=TABLE, Key={"id": {"S": post_id}})
            deleted.setdefault(post_id, page)
        for _ in range(chance.randrange(3)):  # newer than every post of the walk, as a post written now is
            post_id = f"{len(posts) + len(written):08x}-0000-4000-8000-{chance.getrandbits(48):012x}"
            put_post(post_id, timestamp(1000 + len(written)))
            written.add(post_id)

    pages = walk(limit, delete_and_write_some)

    listed = [(number, post["id"], post["created_at"]) for number, page in enumerate(pages, 1) for post in page]
    ids = [post_id for _, post_id, _ in listed]
    assert len(ids) == len(set(ids))  # never twice
    assert set(posts) - set(deleted) <= set(ids)  # every post that was never deleted
    assert all(page <= deleted[post_id] for page, post_id, _ in listed if post_id in deleted)
    assert not written & set(ids)
    assert [created_at for *_, created_at in listed] == sorted((c for *_, c in listed), reverse=True)
    assert all(len(page) == limit for page in pages[:-1])
    if not deleted:
        assert len(pages) == max(1, -(-len(posts) // limit))  # no empty page after the last post


def test_a_post_written_into_any_shard_during_a_walk_is_not_listed_by_its_later_pages(aws, shards):
    """A shard a page queried but took nothing from resumes at the page's end, not at its own start: a post written
    there since (newer than the walk) would otherwise come back first, out of order."""
    from apikit.repositories.posts import shard_of

    shards(16)
    for n in range(7):
        put_post(f"{n:08x}-2222-4222-8222-222222222222", timestamp(n * 1000))
    first = list_posts(limit="3").json()
    newer: dict[str, str] = {}  # one new post in each of the 16 shards
    number = 0
    while len(newer) < 16:
        post_id = f"{number:08x}-3333-4333-8333-333333333333"
        newer.setdefault(shard_of(post_id, 16), post_id)
        number += 1
    for n, post_id in enumerate(newer.values()):
        put_post(post_id, timestamp(10_000 + n))

    second = list_posts(limit="10", cursor=first["next_cursor"]).json()

    listed = [post["created_at"] for post in first["items"] + second["items"]]
    assert listed == [timestamp(n * 1000) for n in reversed(range(7))]
    assert second["next_cursor"] is None


def test_three_hundred_posts_over_16_shards_walk_page_by_page(aws, shards):
    shards(16)
    created = [timestamp(n * 1000) for n in range(300)]
    for n, created_at in enumerate(created):
        put_post(f"{n:08x}-1111-4111-8111-111111111111", created_at)

    pages = walk(37)

    assert [len(page) for page in pages] == [37] * 8 + [4]
    assert [post["created_at"] for page in pages for post in page] == created[::-1]


# --- what a page costs ---------------------------------------------------------------------------------------------


@pytest.fixture
def calls(aws) -> Iterator[list[str]]:
    """The names of the DynamoDB operations the functions call, in order."""
    from apikit.repositories import dynamodb

    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    dynamodb().meta.events.register("before-call.dynamodb", record)
    yield seen
    dynamodb().meta.events.unregister("before-call.dynamodb", record)


def test_a_page_queries_each_shard_once_and_reads_its_posts_in_one_batch(aws, shards, calls):
    shards(16)
    for n in range(30):
        put_post(f"{n:08x}-2222-4222-8222-222222222222", timestamp(n))

    assert list_posts(limit="20").status == 200
    assert sorted(calls) == ["BatchGetItem"] + ["Query"] * 16
    calls.clear()

    assert list_posts(limit="20", author="alice").status == 200
    assert calls == ["Query"]  # one author: one partition, read whole from ByAuthor


@pytest.fixture
def on_batch_get(aws) -> Iterator[Callable[[Callable[..., None]], None]]:
    """Run a hook after each BatchGetItem's answer is parsed, before the repository reads it."""
    from apikit.repositories import dynamodb

    hooks: list[Callable[..., None]] = []

    def add(hook: Callable[..., None]) -> None:
        dynamodb().meta.events.register("after-call.dynamodb.BatchGetItem", hook)
        hooks.append(hook)

    yield add
    for hook in hooks:
        dynamodb().meta.events.unregister("after-call.dynamodb.BatchGetItem", hook)


def test_a_post_deleted_after_the_index_listed_it_gives_its_place_to_the_next(aws, shards, on_batch_get):
    """The index is eventually consistent: it can list a post that BatchGetItem no longer finds. The page is still
    `limit` posts long, and the next page goes on after it."""
    shards(4)
    ids = [f"{n:08x}-3333-4333-8333-333333333333" for n in range(10)]
    for n, post_id in enumerate(ids):
        put_post(post_id, timestamp(n))
    newest = ids[-1]

    def deleted_meanwhile(parsed: dict[str, Any], **_: Any) -> None:
        answered = parsed["Responses"][TABLE]
        parsed["Responses"][TABLE] = [item for item in answered if item["id"]["S"] != newest]

    on_batch_get(deleted_meanwhile)
    first = list_posts(limit="4").json()
    second = list_posts(limit="4", cursor=first["next_cursor"]).json()

    assert [post["id"] for post in first["items"]] == ids[-2:-6:-1]
    assert [post["id"] for post in second["items"]] == ids[-6:-10:-1]


def test_more_posts_deleted_in_one_shard_than_a_query_brought_are_read_past_in_order(aws, shards, on_batch_get):
    """A page queries each shard for `limit + 1` keys. When more of one shard's posts than that are gone by the
    time BatchGetItem reads them, that shard is queried again before anything older is taken from the others."""
    from apikit.repositories.posts import shard_of

    shards(4)
    ids = [f"{n:08x}-5555-4555-8555-555555555555" for n in range(400)]
    crowded = [post_id for post_id in ids if shard_of(post_id, 4) == "post#0"][:8]
    others = [post_id for post_id in ids if shard_of(post_id, 4) != "post#0"][:6]
    for n, post_id in enumerate(others + crowded):  # the crowded shard's posts are the newest
        put_post(post_id, timestamp(n))
    gone = set(crowded[-4:])  # its four newest: more than the three keys a page of two queries it for

    def deleted_meanwhile(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Responses"][TABLE] = [item for item in parsed["Responses"][TABLE] if item["id"]["S"] not in gone]

    on_batch_get(deleted_meanwhile)
    first = list_posts(limit="2").json()

    assert [post["id"] for post in first["items"]] == [crowded[3], crowded[2]]


def test_the_last_page_ends_the_walk_when_the_posts_end_with_it(aws, shards):
    """No empty page after the last one, even when the last page is full: each shard is asked for one key more
    than a page holds, so a shard that gave its last key is known to be done."""
    shards(1)
    for n in range(6):
        put_post(f"{n:08x}-6666-4666-8666-666666666666", timestamp(n))

    pages = walk(3)

    assert [len(page) for page in pages] == [3, 3]


def test_unprocessed_keys_are_read_again_and_a_batch_never_read_is_a_503(aws, shards, on_batch_get, monkeypatch):
    shards(4)
    for n in range(6):
        put_post(f"{n:08x}-4444-4444-8444-444444444444", timestamp(n))
    answers, pauses = 0, []
    monkeypatch.setattr("apikit.repositories.time.sleep", pauses.append)

    def throttled(parsed: dict[str, Any], **_: Any) -> None:
        nonlocal answers
        answers += 1
        if answers <= partly:  # one key answered as unprocessed, as a throttled partition does
            [first, *rest] = parsed["Responses"][TABLE]
            parsed["Responses"][TABLE] = rest
            parsed["UnprocessedKeys"] = {TABLE: {"Keys": [{"id": first["id"]}]}}
        elif answers <= partly + wholly:  # every key unprocessed: DynamoDB then answers no table at all
            keys = [{"id": item["id"]} for item in parsed["Responses"][TABLE]]
            parsed["Responses"], parsed["UnprocessedKeys"] = {}, {TABLE: {"Keys": keys}}

    on_batch_get(throttled)
    partly, wholly = 1, 1
    page = list_posts(limit="5")

    assert page.status == 200
    assert len(page.json()["items"]) == 5
    assert answers == 3
    assert pauses == [0.05, 0.1]  # backing off: 50 ms, then 100 ms

    answers, pauses[:], partly, wholly = 0, [], 0, 99
    unavailable = list_posts(limit="5")
    problem = assert_problem(unavailable, 503)
    assert answers == BATCH_GET_ATTEMPTS
    assert pauses == [0.05, 0.1, 0.2]
    assert unavailable.headers["retry-after"] == "1"
    assert problem["detail"] == "A service the API depends on is busy or unreachable; retry shortly."


# --- cursors are bound to their list and its shards -----------------------------------------------------------------


def test_a_cursor_is_400_once_the_shard_count_changes(aws, shards):
    """A cursor records one position per shard: after a deploy that changes PostsListShards it names other
    partitions, and is refused as any other list's cursor is (the client starts again from the first page)."""
    shards(16)
    for n in range(6):
        put_post(f"{n:08x}-5555-4555-8555-555555555555", timestamp(n))
    cursor = list_posts(limit="2").json()["next_cursor"]
    shards(4)

    assert assert_problem(list_posts(limit="2", cursor=cursor), 400)["detail"] == "The cursor is invalid."
    assert list_posts(limit="2").status == 200


def test_an_all_posts_cursor_is_400_on_an_authors_list_and_an_authors_on_all_posts(aws, shards):
    shards(16)
    for n in range(6):
        put_post(f"{n:08x}-6666-4666-8666-666666666666", timestamp(n))
    everyone = list_posts(limit="2").json()["next_cursor"]
    alice = list_posts(limit="2", author="alice").json()["next_cursor"]

    for answer in (list_posts(limit="2", author="alice", cursor=everyone), list_posts(limit="2", cursor=alice)):
        assert assert_problem(answer, 400)["detail"] == "The cursor is invalid."


def test_an_all_posts_cursor_holds_a_position_per_shard_and_nothing_readable(aws, shards):
    shards(16)
    for n in range(3):
        put_post(f"{n:08x}-7777-4777-8777-777777777777", timestamp(n))
    cursor = list_posts(limit="1").json()["next_cursor"]
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))

    assert b"post#" not in raw  # the shard names are in the signature's context, not repeated
    # Where the walk is (a date), 16 states, one shard's key (its date and id), the tag.
    assert len(raw) == (2 + 27) + 16 + (2 + 27) + (2 + 36) + 16


# --- migrating a stack's posts to ByShard ---------------------------------------------------------------------------


@pytest.fixture
def migrating(aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """PostsTable as the first deploy of the migration makes it (PostsListIndex=ByCreatedAt: both indexes), and
    a way to switch the functions between the two deploys' settings."""
    from apikit.config import get_settings

    client().delete_table(TableName=TABLE)
    tables = table_properties(load_template(ROOT / "template.yaml"), {"PostsListIndex": "ByCreatedAt"})
    create_tables(client(), {TABLE: tables[TABLE]})

    def deploy(index: str) -> None:
        monkeypatch.setenv("POSTS_LIST_INDEX", index)
        get_settings.cache_clear()

    yield deploy
    get_settings.cache_clear()


def test_the_old_single_partition_posts_are_listed_after_the_backfill(migrating, create_post, tmp_path, capsys):
    # Before: 25 posts as releases before ByShard wrote them, one partition ("entity"), no shard.
    old = [f"{n:08x}-8888-4888-8888-888888888888" for n in range(25)]
    for n, post_id in enumerate(old):
        put_post(post_id, timestamp(n), legacy=True)

    # Deploy 1 lists from the old index, and writes posts both indexes list.
    migrating("ByCreatedAt")
    new = create_post(title="written during the migration")["id"]
    during = [post["id"] for page in walk(10) for post in page]
    assert during == [new, *old[::-1]]

    # Without the backfill, the second deploy would list only the new post: what the backfill is for.
    migrating("ByShard")
    assert [post["id"] for page in walk(10) for post in page] == [new]

    state = tmp_path / "state.json"
    dry = backfill_list_shards.backfill(client(), TABLE, 16, state, dry_run=True)
    assert (dry.scanned, dry.updated, dry.current) == (26, 25, 1)
    assert not state.exists()
    assert [post["id"] for page in walk(10) for post in page] == [new]  # a dry run writes nothing

    # Interrupted after one page of 10, then run again: it goes on from the saved position.
    first = backfill_list_shards.backfill(client(), TABLE, 16, state, page_size=10, max_pages=1, writes_per_second=1e6)
    assert json.loads(state.read_text())["after"] is not None
    assert first.scanned == 10
    rest = backfill_list_shards.backfill(client(), TABLE, 16, state, page_size=10, writes_per_second=1e6)
    assert "going on from" in capsys.readouterr().out
    assert (rest.scanned, rest.updated, rest.current, rest.done) == (26, 25, 1, True)
    assert not state.exists()

    assert [post["id"] for page in walk(10) for post in page] == [new, *old[::-1]]

    again = backfill_list_shards.backfill(client(), TABLE, 16, state, writes_per_second=1e6)
    assert (again.scanned, again.updated, again.current) == (26, 0, 26)  # idempotent


def test_the_backfill_never_writes_back_a_post_deleted_during_the_run(migrating, tmp_path):
    for n in range(3):
        put_post(f"{n:08x}-9999-4999-8999-999999999999", timestamp(n), legacy=True)
    dynamodb = client()
    victim = "00000001-9999-4999-8999-999999999999"

    def deleted_by_its_author(params: dict[str, Any], **_: Any) -> None:
        if params["Key"]["id"]["S"] == victim:
            boto3.client("dynamodb").delete_item(TableName=TABLE, Key={"id": {"S": victim}})

    dynamodb.meta.events.register("provide-client-params.dynamodb.UpdateItem", deleted_by_its_author)
    progress = backfill_list_shards.backfill(dynamodb, TABLE, 16, tmp_path / "s.json", writes_per_second=1e6)

    assert (progress.updated, progress.gone) == (2, 1)
    assert "Item" not in client().get_item(TableName=TABLE, Key={"id": {"S": victim}})


def test_a_saved_run_for_another_table_or_shard_count_is_refused(tmp_path):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"table": TABLE, "shards": 16, "after": {"id": {"S": "x"}}}))

    with pytest.raises(SystemExit, match="not PostsTable with 8: delete it to start over"):
        backfill_list_shards.load_progress(state, TABLE, 8)
    with pytest.raises(SystemExit, match="for PostsTable with 16 shards, not Other with 16"):
        backfill_list_shards.load_progress(state, "Other", 16)


def test_the_backfill_command_runs_against_a_local_endpoint(migrating, tmp_path, capsys):
    """As the docs run it against `make dev`'s data; here moto stands in for the endpoint."""
    put_post("0000000a-aaaa-4aaa-8aaa-aaaaaaaaaaaa", timestamp(1), legacy=True)
    state = tmp_path / "s.json"

    assert backfill_list_shards.main(["--table", TABLE, "--state", str(state), "--dry-run"]) == 0
    assert "would give 1 a shard of 16" in capsys.readouterr().out
    assert backfill_list_shards.main(["--table", TABLE, "--state", str(state), "--shards", "4"]) == 0
    assert "gave 1 a shard of 4" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        backfill_list_shards.main(["--table", TABLE, "--shards", "32"])
    assert Path(state).exists() is False

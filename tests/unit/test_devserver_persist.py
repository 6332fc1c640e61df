"""devserver.persist's group commit and devserver.aws's snapshot reader, without a dev server."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from devserver.aws import PersistError, boto_item, read_snapshot, wire_item
from devserver.persist import GroupCommit


def test_a_commit_waits_for_a_save_that_began_after_it_and_concurrent_commits_share_one():
    events: list[str] = []
    state = {"writes": 0}

    def save() -> None:
        seen = state["writes"]
        time.sleep(0.05)
        events.append(f"saved {seen}")

    async def write_then_commit(group: GroupCommit) -> int:
        state["writes"] += 1
        mine = state["writes"]
        await group.commit()
        return mine

    async def main() -> list[int]:
        group = GroupCommit(save)
        first = asyncio.create_task(write_then_commit(group))
        await asyncio.sleep(0.01)  # the first save is running, having seen one write
        rest = [asyncio.create_task(write_then_commit(group)) for _ in range(5)]
        return await asyncio.gather(first, *rest)

    assert asyncio.run(main()) == [1, 2, 3, 4, 5, 6]
    # The five writes made while save 1 ran were not in it: one more save, begun after them, covers all five.
    assert events == ["saved 1", "saved 6"]


def test_a_failed_save_fails_the_commits_waiting_for_it_and_the_next_save_is_tried_again():
    calls = {"count": 0}
    failing = threading.Event()
    failing.set()

    def save() -> None:
        calls["count"] += 1
        if failing.is_set():
            raise OSError("No space left on device")

    async def main() -> None:
        group = GroupCommit(save)
        with pytest.raises(OSError, match="No space left"):
            await group.commit()
        failing.clear()
        await group.commit()

    asyncio.run(main())
    assert calls["count"] == 2


def test_read_snapshot_accepts_a_snapshot_without_a_format_field(tmp_path: Path):
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({"tables": {"T": [{"id": {"S": "a"}}]}, "buckets": {"b": {}}}))
    assert read_snapshot(path)["tables"]["T"] == [{"id": {"S": "a"}}]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b'{"tables": {"T": [{"id": {"S": "a"}}]}, "buckets": {}', "it ends before the JSON does (truncated?)"),
        (b'{"tables": {"T": [{"id": {"S": "a', "it ends before the JSON does (truncated?)"),
        (b"\xff\xfe{}", "it is not UTF-8 text (byte 0)"),
        (b'{"tables": {}, "buckets": {}}x', "it is not JSON: Extra data at line 1, column 30"),
        (b"\x00" * 64, "it is not JSON"),
        (b"   \n", "it is empty (a truncated write?)"),
        (b'{"tables": {"T": {}}, "buckets": {}}', "table T is not a list of items"),
        (b'{"tables": {}, "buckets": {"b": {"k": {"body": 1}}}}', "bucket b is not a map of objects"),
        (b'{"format": 2, "tables": {}, "buckets": {}}', "its format is 2; this dev server reads 1"),
    ],
)
def test_read_snapshot_names_the_file_and_the_fault(tmp_path: Path, content: bytes, said: str):
    path = tmp_path / "snapshot.json"
    path.write_bytes(content)
    with pytest.raises(PersistError) as raised:
        read_snapshot(path)
    assert str(raised.value).startswith(f"{path} is not a usable snapshot: {said}")
    assert f"mv {path} {path}.broken" in str(raised.value)


def test_binary_attributes_are_saved_as_base64_text_and_put_back_as_bytes():
    item = {
        "id": {"S": "a"},
        "hash": {"B": b"\x00\xffbytes"},
        "hashes": {"BS": [b"\x01", b"\x02"]},
        "nested": {"M": {"inner": {"L": [{"B": b"\x03"}, {"N": "1"}]}}},
    }
    saved = wire_item(item)
    assert json.loads(json.dumps(saved)) == saved  # JSON as it is
    assert saved["hash"] == {"B": "AP9ieXRlcw=="}  # DynamoDB's own JSON wire format for binary
    assert boto_item(saved) == item

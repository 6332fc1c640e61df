"""Give every post its ByShard partition (`list_shard`), so GET /api/posts lists it: the migration step between the
two deploys of docs/scale.md ("Migrating"), and the step before lowering PostsListShards.

    make backfill-list-shards ARGS="--stack api-routes --dry-run"      # count what would change, write nothing
    make backfill-list-shards ARGS="--stack api-routes"                # then do it (resumes where it stopped)
    make backfill-list-shards ARGS="--table PostsTable --endpoint-url http://127.0.0.1:PORT"   # `make dev`'s data

- Idempotent: a post whose `list_shard` is already the one its id hashes to (apikit.repositories.posts.shard_of) is
  left alone, so a second run writes nothing. Each write is conditional on the post still existing, so a post
  deleted during the run is never written back.
- Resumable: after each scanned page, the position is saved in the state file (`--state`); a run that stopped
  (Ctrl-C, expired credentials, a throttle botocore gave up on) starts again after the last page it finished.
  The state names the table and shard count: a run for another one refuses it (delete the file to start over).
  A run that finishes deletes it: running again scans every post again, and writes nothing.
- Gentle: at most `--writes-per-second` updates a second (default 100: each costs one write unit, a few per cent of
  an on-demand table's default 40,000 a second), and a Scan of `Limit` items a page, keys only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "shared"))

from apikit.repositories.posts import SHARD, shard_of  # noqa: E402  (the layer, as the functions import it)


@dataclass
class Progress:
    table: str
    shards: int
    after: dict[str, Any] | None = None  # the scan's LastEvaluatedKey after the last page finished
    done: bool = False
    scanned: int = 0
    updated: int = 0  # written (or, in a dry run, to be written)
    current: int = 0  # already in their shard
    gone: int = 0  # deleted between the scan and the write

    def report(self, dry_run: bool) -> str:
        verb = "would give" if dry_run else "gave"
        return (
            f"{self.table}: scanned {self.scanned} posts; {verb} {self.updated} a shard of {self.shards}; "
            f"{self.current} already had theirs; {self.gone} deleted meanwhile"
        )


def load_progress(path: Path, table: str, shards: int) -> Progress:
    if not path.is_file():
        return Progress(table, shards)
    progress = Progress(**json.loads(path.read_text()))
    if (progress.table, progress.shards) != (table, shards):
        raise SystemExit(
            f"{path} is the state of a run for {progress.table} with {progress.shards} shards, not {table} with "
            f"{shards}: delete it to start over"
        )
    return progress


def save_progress(path: Path, progress: Progress) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(asdict(progress)))
    temporary.replace(path)  # whole or not at all: a run killed while saving keeps the previous position


def backfill(
    dynamodb: Any,
    table: str,
    shards: int,
    state: Path,
    *,
    dry_run: bool = False,
    page_size: int = 500,
    writes_per_second: float = 100,
    max_pages: int | None = None,
) -> Progress:
    """Scan `table` and give each post its shard. `max_pages` stops after that many pages (as an interruption would:
    the state file says where to go on). A dry run reads the same and writes neither posts nor state."""
    progress = load_progress(state, table, shards)
    if progress.after:
        print(f"{table}: going on from {state} ({progress.scanned} posts scanned so far)")
    pages = 0
    interval = 1 / writes_per_second
    while max_pages is None or pages < max_pages:
        scan: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": "#id, #shard",
            "ExpressionAttributeNames": {"#id": "id", "#shard": SHARD},
            "Limit": page_size,
        }
        if progress.after:
            scan["ExclusiveStartKey"] = progress.after
        page = dynamodb.scan(**scan)
        for item in page["Items"]:
            progress.scanned += 1
            post_id = item["id"]["S"]
            shard = shard_of(post_id, shards)
            if item.get(SHARD) == {"S": shard}:
                progress.current += 1
                continue
            progress.updated += 1
            if dry_run:
                continue
            started = time.monotonic()
            try:
                dynamodb.update_item(
                    TableName=table,
                    Key={"id": {"S": post_id}},
                    UpdateExpression="SET #shard = :shard",
                    ConditionExpression="attribute_exists(#id)",
                    ExpressionAttributeNames={"#id": "id", "#shard": SHARD},
                    ExpressionAttributeValues={":shard": {"S": shard}},
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                progress.updated -= 1
                progress.gone += 1
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        pages += 1
        progress.after = page.get("LastEvaluatedKey")
        progress.done = progress.after is None
        if not dry_run and progress.done:
            state.unlink(missing_ok=True)
        elif not dry_run:
            save_progress(state, progress)
        if progress.done:
            break
    return progress


def posts_table(stack: str, cloudformation: Any) -> str:
    resource = cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId="PostsTable")
    name: str = resource["StackResourceDetail"]["PhysicalResourceId"]
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the deployed stack whose PostsTable to backfill")
    where.add_argument("--table", help="the posts table's name (PostsTable under `make dev`)")
    parser.add_argument("--shards", type=int, default=16, help="the PostsListShards the stack has, or will have")
    parser.add_argument("--endpoint-url", help="another DynamoDB endpoint: the dev server prints its own at start")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--dry-run", action="store_true", help="count what would change; write nothing")
    parser.add_argument("--state", type=Path, help="where the position is saved (default .backfill-<table>.json)")
    parser.add_argument("--writes-per-second", type=float, default=100)
    options = parser.parse_args(argv)
    if not 1 <= options.shards <= 16:
        parser.error("--shards is PostsListShards: 1, 2, 4, 8 or 16")
    if options.endpoint_url:  # a local endpoint takes any credentials; don't make the user export some
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    session = boto3.Session(region_name=options.region or "us-east-1")
    table = options.table or posts_table(options.stack, session.client("cloudformation"))
    dynamodb = session.client("dynamodb", endpoint_url=options.endpoint_url)
    state = options.state or ROOT / f".backfill-{table}.json"
    progress = backfill(
        dynamodb, table, options.shards, state, dry_run=options.dry_run, writes_per_second=options.writes_per_second
    )
    print(progress.report(options.dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())

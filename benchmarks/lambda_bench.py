"""Lambda-side benchmarks: cold init, warm overhead, AWS calls per request, package size.

Every figure is printed next to a baseline measured in the same run. Run through `make bench`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.handlers

from devserver.runtime import RUNTIME_REQUIREMENTS, Dependencies
from devserver.template import Layer
from devserver.worker import LambdaContext, load_module
from tests.dynamodb_limits import item_bytes

ROOT = Path(__file__).resolve().parents[1]
LAYER = ROOT / "layers" / "shared"
FUNCTIONS = sorted(path.name for path in (ROOT / "functions").iterdir() if (path / "app.py").exists())

# Counting AWS calls: a botocore event hook that every session (so every client) registers on creation.
CALLS: Counter[str] = Counter()


def _count_call(model: Any, **_: Any) -> None:
    CALLS[f"{model.service_model.service_name}.{model.name}"] += 1


botocore.handlers.BUILTIN_HANDLERS.append(("before-call", _count_call))

LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POSTS_TABLE": "PostsTable",
    "USERS_TABLE": "UsersTable",
    "SESSIONS_TABLE": "SessionsTable",
    "JWT_SIGNING_KEY_ARN": "JwtSigningKey",
    "JWT_PUBLIC_KEYS_ARN": "JwtPublicKeys",
    "ORDERS_TABLE": "OrdersTable",
    "STRIPE_EVENTS_TABLE": "StripeEventsTable",
    "STRIPE_WEBHOOK_SECRET_ARN": "StripeWebhookSecret",
}
WEBHOOK_SECRET = "whsec_bench_" + "w" * 32
BASELINES = {
    "bare: json": "import json\n\ndef lambda_handler(event, context):\n    return json.dumps(event)\n",
    "bare: boto3 + client": "import boto3\n\nclient = boto3.client('dynamodb')\n\n"
    "def lambda_handler(event, context):\n    return client\n",
}


# --- 1. cold init ------------------------------------------------------------------------------------------


def _pip_install(target: Path, requirements: Path, *options: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *options]
    subprocess.run([*command, "--target", str(target), "-r", str(requirements)], check=True)


def lambda_site(code_dir: Path | None = None) -> list[Path]:
    """What a function sees on Lambda, exactly as the dev server's workers see it: its own requirements (if it
    has a requirements.txt), the layer, its pinned requirements and the runtime's boto3, nothing else (not the
    dev venv, whose extra packages such as `cryptography` would change what pyjwt imports)."""
    dependencies = Dependencies()
    layer = Layer("SharedLayer", LAYER, build_method="python3.13")
    own = code_dir / "requirements.txt" if code_dir else None
    return [
        *([dependencies.install(own)] if own and own.is_file() else []),
        *dependencies.layer_paths(layer),
        dependencies.install(RUNTIME_REQUIREMENTS),
    ]


def _python(code_dir: Path, *flags: str, script: str) -> subprocess.CompletedProcess[str]:
    # -I -S: no site-packages, no PYTHON* variables: only the stdlib, the function and what Lambda adds.
    paths = [str(code_dir), *map(str, lambda_site(code_dir))]
    return subprocess.run(
        [sys.executable, "-I", "-S", *flags, "-c", f"import sys; sys.path[:0] = {paths!r}\n{script}"],
        env={**os.environ, **LAMBDA_ENV},
        capture_output=True,
        text=True,
        check=True,
    )


def _import_ms(code_dir: Path) -> float:
    script = "import time\nstarted = time.perf_counter()\nimport app\nprint((time.perf_counter() - started) * 1000)"
    return float(_python(code_dir, script=script).stdout.strip())


def top_imports(code_dir: Path, count: int = 4) -> str:
    """Self time summed per top-level package, from `python -X importtime`: where the cold start goes."""
    stderr = _python(code_dir, "-X", "importtime", script="import app").stderr
    per_package: Counter[str] = Counter()
    for line in stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[0].strip().isdigit():
            per_package[fields[2].strip().split(".")[0]] += int(fields[0])
    return ", ".join(f"{name} {micros / 1000:.0f}" for name, micros in per_package.most_common(count))


def cold_init(repeats: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        targets: dict[str, Path] = {}
        for name, source in BASELINES.items():
            directory = Path(scratch) / name.replace(" ", "").replace(":", "_").replace("+", "_")
            directory.mkdir()
            (directory / "app.py").write_text(source)
            targets[name] = directory
        targets.update({name: ROOT / "functions" / name for name in FUNCTIONS})
        for directory in targets.values():
            _import_ms(directory)  # writes the .pyc files, as a built artifact ships them
        # Round-robin, so that a burst of load elsewhere on the machine hits every target alike.
        samples: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(repeats):
            for name, path in targets.items():
                samples[name].append(_import_ms(path))
        medians = {name: statistics.median(values) for name, values in samples.items()}
        bare_json, bare_boto3 = medians["bare: json"], medians["bare: boto3 + client"]
        for name, directory in targets.items():
            rows.append(
                {
                    "target": name,
                    "import_ms": medians[name],
                    "vs_json": medians[name] / bare_json,
                    "vs_boto3": medians[name] / bare_boto3,
                    "top": "" if name.startswith("bare") else top_imports(directory),
                }
            )
    return rows


# --- 2. warm overhead and 3. AWS calls per request ---------------------------------------------------------

POST_ID = "3f1c2a9e-8b7d-4e21-9a6f-0c5d2e7b1a44"
POST_ITEM = {
    "id": {"S": POST_ID},
    "list_shard": {"S": "post#0"},
    "title": {"S": "Hello"},
    "content": {"S": "World"},
    "author_id": {"S": "bench-user"},
    "created_at": {"S": "2026-11-27T10:00:00.000000Z"},
    "updated_at": {"S": "2026-11-27T10:00:00.000000Z"},
    "version": {"N": "1"},
}
USER_ITEM = {
    "pk": {"S": "user#bench-user"},
    "id": {"S": "bench-user"},
    "email": {"S": "bench@example.com"},
    "name": {"S": "Bench"},
    "created_at": {"S": "2026-11-27T10:00:00Z"},
}
# function -> (sample event, the DynamoDB operations it makes with their stubbed answers, in order)
WARM_CASES: dict[str, tuple[str, list[tuple[str, dict[str, Any]]]]] = {
    "health": ("health/get.json", []),
    "not_found": ("not_found/wrong_method.json", []),
    # The sample lists one author's posts: one Query of ByAuthor (a page of all posts is section 7's).
    "posts_list": ("posts_list/get.json", [("query", {"Items": [POST_ITEM] * 10})]),
    "posts_get": ("posts_get/head.json", [("get_item", {"Item": POST_ITEM})]),
    "posts_create": ("posts_create/post.json", [("put_item", {})]),
    "posts_replace": (
        "posts_replace/put.json",
        [("update_item", {"Attributes": {**POST_ITEM, "version": {"N": "2"}}})],
    ),
    "posts_patch": ("posts_patch/patch.json", [("update_item", {"Attributes": {**POST_ITEM, "version": {"N": "2"}}})]),
    "posts_delete": ("posts_delete/delete.json", [("delete_item", {})]),
    "auth_me": ("auth_me/get.json", [("get_item", {"Item": USER_ITEM})]),
    "orders_list": ("orders_list/get.json", [("query", {"Items": []})]),
}
# Section 3 only: a signed Stripe delivery, then the same delivery again (a replay, answered from the record).
CALL_ONLY_CASES = {"stripe_webhook": "stripe_webhook/checkout.session.completed.json"}


def _load(function: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    return load_module(ROOT / "functions" / function / "app.py", f"bench_{function}").lambda_handler  # type: ignore[no-any-return]


def _event(sample: str, token: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / sample).read_text())
    if "authorization" in event["headers"]:
        event["headers"]["authorization"] = f"Bearer {token}"
    if "stripe-signature" in event["headers"]:
        import stripe  # the webhook's own requirement, installed in the dev venv too

        event["headers"]["stripe-signature"] = stripe.WebhookSignature.generate_signature_header(
            event["body"], WEBHOOK_SECRET
        )
    event["headers"].pop("if-match", None)
    return event


def _per_call_us(call: Callable[[], Any], iterations: int, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(iterations):
            call()
        samples.append((time.perf_counter() - started) / iterations * 1e6)
    return statistics.median(samples)


def warm_and_calls(iterations: int, repeats: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    os.environ.update(LAMBDA_ENV)
    sys.path[:0] = [str(LAYER), str(ROOT)]
    import boto3
    from botocore.stub import Stubber
    from moto import mock_aws

    from apikit.auth import issue_access_token
    from apikit.logging import logger
    from apikit.repositories import dynamodb
    from devserver.template import create_tables, load_template, table_properties

    logger.setLevel("WARNING")  # measure the code path, not a JSON line per call to a terminal
    warm_rows, call_rows = [], []
    with mock_aws():
        create_tables(boto3.client("dynamodb"), table_properties(load_template(ROOT / "template.yaml")))
        from apikit import keys

        signing_key = keys.new_signing_key()
        public_keys = keys.with_public_key('{"keys": []}', signing_key)
        boto3.client("secretsmanager").create_secret(Name="JwtSigningKey", SecretString=signing_key)
        boto3.client("secretsmanager").create_secret(Name="JwtPublicKeys", SecretString=public_keys)
        boto3.client("secretsmanager").create_secret(Name="StripeWebhookSecret", SecretString=WEBHOOK_SECRET)
        token = issue_access_token("bench-user")
        dynamodb().put_item(TableName="PostsTable", Item=POST_ITEM)
        dynamodb().put_item(TableName="UsersTable", Item=USER_ITEM)

        # 3. AWS calls, against moto: the first invocation (cold) and the next (warm).
        cases = {function: sample for function, (sample, _) in WARM_CASES.items()} | CALL_ONLY_CASES
        for function, sample in cases.items():
            from aws_lambda_powertools.utilities import parameters

            parameters.clear_caches()
            handler = _load(function)
            counts = []
            for _ in range(2):
                CALLS.clear()
                status = handler(_event(sample, token), LambdaContext("bench", 512, 10))["statusCode"]
                counts.append(dict(CALLS))
            call_rows.append({"function": function, "status": status, "cold": counts[0], "warm": counts[1]})
            dynamodb().put_item(TableName="PostsTable", Item=POST_ITEM)  # undo a delete

        # 2. Warm overhead: DynamoDB stubbed (botocore Stubber) for both the handler and its bare twin.
        client = dynamodb()
        for function, (sample, operations) in WARM_CASES.items():
            handler = _load(function)
            event = _event(sample, token)
            with Stubber(client) as stubber:
                total = iterations * repeats + iterations  # + warm-up
                for _ in range(total * 2):
                    for operation, answer in operations:
                        stubber.add_response(operation, answer)

                def bare(
                    operations: list[tuple[str, dict[str, Any]]] = operations, event: dict[str, Any] = event
                ) -> str:
                    results = [getattr(client, operation)(**_REQUEST[operation]) for operation, _ in operations]
                    return json.dumps({"statusCode": 200, "body": json.dumps(results), "event": event["rawPath"]})

                def ours(event: dict[str, Any] = event, handler: Any = handler) -> Any:
                    return handler(event, LambdaContext("bench", 512, 10))

                _per_call_us(ours, iterations, 1)
                ours_us = _per_call_us(ours, iterations, repeats)
                bare_us = _per_call_us(bare, iterations, repeats)
            warm_rows.append(
                {"function": function, "ours_us": ours_us, "bare_us": bare_us, "added_us": ours_us - bare_us}
            )
    return warm_rows, call_rows


_REQUEST: dict[str, dict[str, Any]] = {
    "query": {
        "TableName": "PostsTable",
        "IndexName": "ByAuthor",
        "KeyConditionExpression": "author_id = :a",
        "ExpressionAttributeValues": {":a": {"S": "bench-user"}},
    },
    "get_item": {"TableName": "PostsTable", "Key": {"id": {"S": POST_ID}}},
    "put_item": {"TableName": "PostsTable", "Item": POST_ITEM},
    "update_item": {
        "TableName": "PostsTable",
        "Key": {"id": {"S": POST_ID}},
        "UpdateExpression": "SET title = :t",
        "ExpressionAttributeValues": {":t": {"S": "x"}},
    },
    "delete_item": {"TableName": "PostsTable", "Key": {"id": {"S": POST_ID}}},
}


# --- 7. listing all posts over shards -----------------------------------------------------------------------

POSTS_FOR_LISTING = 400
PAGE = 20


def _read_units(operation: str, items: list[dict[str, Any]]) -> float:
    """Eventually consistent read units, by AWS's rules: a Query rounds the sum of its items up to 4 KB; a
    BatchGetItem rounds each item; half a unit per 4 KB. An item's size is tests/dynamodb_limits.py's (names and
    values). https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html"""
    if operation == "Query":
        return max(1, -(-sum(map(item_bytes, items)) // 4096)) * 0.5
    return sum(max(1, -(-item_bytes(item) // 4096)) * 0.5 for item in items)


def listing_costs(repeats: int) -> dict[str, Any]:
    """For a page of 20 of 400 posts (1 KB of content each): the DynamoDB calls and read units of the first and a
    middle page at 1, 4 and 16 shards, beside the one-partition ByCreatedAt (ALL) page; the write units of a new
    post under each design; and the merge's own cost per page (cursor checked and made, 16 shards' keys merged)
    with DynamoDB out of the picture."""
    os.environ.update(LAMBDA_ENV | {"CURSOR_KEY_ARN": "CursorKey", "POSTS_LIST_INDEX": "ByShard"})
    sys.path[:0] = [str(LAYER), str(ROOT)]
    import boto3
    from moto import mock_aws

    from apikit.config import get_settings
    from apikit.repositories import dynamodb
    from apikit.repositories.pages import query_page
    from apikit.repositories.posts import ENTITY, SHARD, PostsRepository, shard_of
    from devserver.template import create_tables, load_template, table_properties

    # operation, moto's consumed units, AWS's rule, AWS's rule if ByShard projected ALL (whole posts)
    calls: list[tuple[str, float, float, float]] = []
    stored: dict[str, dict[str, Any]] = {}  # post id -> the whole item

    def capacity(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "TOTAL"

    def record(parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        moto_units = (
            sum(c["CapacityUnits"] for c in consumed) if isinstance(consumed, list) else consumed["CapacityUnits"]
        )
        items = parsed["Items"] if model.name == "Query" else parsed["Responses"]["PostsTable"]
        whole = [stored[item["id"]["S"]] for item in items] if model.name == "Query" else []
        calls.append((model.name, moto_units, _read_units(model.name, items), _read_units(model.name, whole)))

    rows: list[dict[str, Any]] = []
    with mock_aws():
        template = load_template(ROOT / "template.yaml")
        both = table_properties(template, {"PostsListIndex": "ByCreatedAt"})  # ByShard and ByCreatedAt side by side
        create_tables(boto3.client("dynamodb"), {"PostsTable": both["PostsTable"]})
        boto3.client("secretsmanager").create_secret(Name="CursorKey", SecretString="bench-cursor-key-" + "k" * 48)
        client = dynamodb()
        for hook, event in ((capacity, "provide-client-params"), (record, "after-call")):
            for operation in ("Query", "BatchGetItem"):
                client.meta.events.register(f"{event}.dynamodb.{operation}", hook)
        repository = PostsRepository()
        for shards in (1, 4, 16):
            os.environ["POSTS_LIST_SHARDS"] = str(shards)
            get_settings.cache_clear()
            client.delete_table(TableName="PostsTable")
            create_tables(boto3.client("dynamodb"), {"PostsTable": both["PostsTable"]})
            for n in range(POSTS_FOR_LISTING):
                post_id = f"{n:08x}-0000-4000-8000-000000000000"
                created = f"2026-11-27T10:{n // 60:02}:{n % 60:02}.000000Z"
                item = {"id": {"S": post_id}, SHARD: {"S": shard_of(post_id, shards)}, "entity": {"S": ENTITY}}
                item |= {"title": {"S": f"Post {n}"}, "content": {"S": "x" * 1000}, "author_id": {"S": "bench"}}
                item |= {"created_at": {"S": created}, "updated_at": {"S": created}, "version": {"N": "1"}}
                client.put_item(TableName="PostsTable", Item=item)
                stored[post_id] = item
            for label, pages_before in (("first page", 0), ("page 10", 9)):
                cursor = None
                for _ in range(pages_before):
                    cursor = repository.page(PAGE, cursor).next_cursor
                calls.clear()
                repository.page(PAGE, cursor)
                rows.append(_listing_row(f"ByShard, {shards} shard{'s' if shards > 1 else ''}, {label}", calls))
        calls.clear()
        query_page("PostsTable", "ByCreatedAt", {"id", "entity", "created_at"}, ("entity", ENTITY), PAGE, None)
        rows.insert(0, _listing_row("ByCreatedAt (one partition, ALL), first page", calls))

        merge = [{"shards": shards, "merge_us": _merge_us(shards, repeats)} for shards in (1, 4, 16)]

        writes = []
        for content in (1000, 20_000):
            post = {"id": {"S": POST_ID}, "title": {"S": "A title"}, "content": {"S": "x" * content}}
            post |= {"author_id": {"S": "bench"}, "created_at": {"S": "2026-11-27T10:00:00.000000Z"}}
            post |= {"updated_at": {"S": "2026-11-27T10:00:00.000000Z"}, "version": {"N": "1"}}
            base = -(-item_bytes(post) // 1024)
            keys_only = -(-item_bytes({k: post[k] for k in ("id", "created_at")} | {SHARD: {"S": "post#15"}}) // 1024)
            with_entity = -(-(item_bytes(post) + item_bytes({"entity": {"S": "post"}})) // 1024)
            writes.append(
                {
                    "content": content,
                    "before": base + with_entity + with_entity,  # the table, ByCreatedAt (ALL), ByAuthor (ALL)
                    "now": base + keys_only + base,  # the table, ByShard (KEYS_ONLY), ByAuthor (ALL)
                }
            )
    return {"pages": rows, "merge": merge, "writes": writes}


def _listing_keys(shards: int) -> dict[str, list[dict[str, Any]]]:
    """The ByShard keys of the listing's posts, per shard, newest first (as a Query with ScanIndexForward=False)."""
    from apikit.repositories.posts import SHARD, shard_of

    keys: dict[str, list[dict[str, Any]]] = {f"post#{n}": [] for n in range(shards)}
    for n in reversed(range(POSTS_FOR_LISTING)):
        post_id = f"{n:08x}-0000-4000-8000-000000000000"
        created = f"2026-11-27T10:{n // 60:02}:{n % 60:02}.000000Z"
        shard = shard_of(post_id, shards)
        keys[shard].append({"id": {"S": post_id}, SHARD: {"S": shard}, "created_at": {"S": created}})
    return keys


class _OfflineListing:
    """pages.ShardedListing whose shards answer from memory: what merging costs, DynamoDB out of the picture."""

    def __init__(self, shards: int) -> None:
        from apikit.repositories.pages import ShardedListing

        keys = _listing_keys(shards)

        class Listing(ShardedListing):
            def _query(self, shard: Any) -> None:
                start = 0 if shard.after is None else keys[shard.name].index(shard.after) + 1
                shard.buffer.extend(keys[shard.name][start : start + self.limit + 1])
                shard.finished = start + self.limit + 1 >= len(keys[shard.name])

        self.listing, self.names = Listing, list(keys)

    def page(self, cursor: str | None) -> str | None:
        listing = self.listing(
            "PostsTable",
            "ByShard",
            {"id", "list_shard", "created_at"},
            "list_shard",
            "created_at",
            self.names,
            PAGE,
            cursor,
        )
        listing.take(PAGE)
        return listing.next_cursor()


def _merge_us(shards: int, repeats: int) -> float:
    """µs to answer the third page's positions: the cursor checked and read, the shards merged, the next made."""
    offline = _OfflineListing(shards)
    third = offline.page(offline.page(None))
    return _per_call_us(lambda: offline.page(third), 200, repeats)


def _listing_row(label: str, calls: list[tuple[str, float, float, float]]) -> dict[str, Any]:
    operations = [call[0] for call in calls]
    return {
        "page": label,
        "calls": ", ".join(f"{name} x{operations.count(name)}" for name in dict.fromkeys(operations)),
        "moto_units": sum(call[1] for call in calls),
        "aws_units": sum(call[2] for call in calls),
        # Queries of whole posts (an ALL projection) and no BatchGetItem.
        "aws_units_all": sum(call[3] for call in calls if call[0] == "Query"),
    }


# --- 4. package size ---------------------------------------------------------------------------------------


def _tree_bytes(path: Path) -> int:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file() and "__pycache__" not in file.parts)


def package_sizes() -> dict[str, Any]:
    """The layer as `sam build` makes it for arm64: the pinned requirements as aarch64 wheels, plus apikit."""
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "python"
        _pip_install(
            target,
            LAYER / "requirements.txt",
            "--no-compile",
            "--only-binary=:all:",
            # The Makefile's LAMBDA_WHEELS platforms (`make build`): a wheel tagged manylinux_2_28 only (as
            # argon2-cffi-bindings 26 is) is not taken for manylinux2014 alone.
            *(
                f"--platform={tag}_aarch64"
                for tag in ("linux", "manylinux2014", "manylinux_2_17", "manylinux_2_28", "manylinux_2_34")
            ),
            "--implementation",
            "cp",
            "--python-version",
            "3.13",
        )
        dependencies = _tree_bytes(target)
        native = sorted(str(path.relative_to(target)) for path in target.rglob("*.so"))
    apikit = _tree_bytes(LAYER / "apikit")
    functions = {name: _tree_bytes(ROOT / "functions" / name) for name in FUNCTIONS}
    return {"layer_bytes": dependencies + apikit, "apikit_bytes": apikit, "native": native, "functions": functions}


if __name__ == "__main__":
    section, *numbers = sys.argv[1:]
    values = [int(number) for number in numbers]
    if section == "cold":
        print(json.dumps(cold_init(*values)))
    elif section == "warm":
        print(json.dumps(warm_and_calls(*values)))
    elif section == "listing":
        print(json.dumps(listing_costs(*values)))
    else:
        print(json.dumps(package_sizes()))

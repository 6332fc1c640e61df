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
    "entity": {"S": "post"},
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
# function -> (sample event, the one DynamoDB operation it makes, the stubbed answer)
WARM_CASES: dict[str, tuple[str, str | None, dict[str, Any]]] = {
    "health": ("health/get.json", None, {}),
    "not_found": ("not_found/wrong_method.json", None, {}),
    "posts_list": ("posts_list/get.json", "query", {"Items": [POST_ITEM] * 10}),
    "posts_get": ("posts_get/head.json", "get_item", {"Item": POST_ITEM}),
    "posts_create": ("posts_create/post.json", "put_item", {}),
    "posts_replace": ("posts_replace/put.json", "update_item", {"Attributes": {**POST_ITEM, "version": {"N": "2"}}}),
    "posts_patch": ("posts_patch/patch.json", "update_item", {"Attributes": {**POST_ITEM, "version": {"N": "2"}}}),
    "posts_delete": ("posts_delete/delete.json", "delete_item", {}),
    "auth_me": ("auth_me/get.json", "get_item", {"Item": USER_ITEM}),
    "orders_list": ("orders_list/get.json", "query", {"Items": []}),
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
        cases = {function: sample for function, (sample, _, _) in WARM_CASES.items()} | CALL_ONLY_CASES
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
        for function, (sample, operation, answer) in WARM_CASES.items():
            handler = _load(function)
            event = _event(sample, token)
            with Stubber(client) as stubber:
                total = iterations * repeats + iterations  # + warm-up
                if operation:
                    for _ in range(total * 2):
                        stubber.add_response(operation, answer)

                def bare(operation: str | None = operation, event: dict[str, Any] = event) -> str:
                    result = getattr(client, operation)(**_REQUEST[operation]) if operation else {}
                    return json.dumps({"statusCode": 200, "body": json.dumps(result), "event": event["rawPath"]})

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
        "IndexName": "ByCreatedAt",
        "KeyConditionExpression": "entity = :e",
        "ExpressionAttributeValues": {":e": {"S": "post"}},
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
            "--platform",
            "manylinux2014_aarch64",
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
    else:
        print(json.dumps(package_sizes()))

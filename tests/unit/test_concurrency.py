"""Concurrent writes: a conditional write has exactly one winner, no update is ever lost, an email is taken once.

Each writer is its own process (a Lambda execution environment); they share one DynamoDB, a moto server.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from moto.dynamodb.models import DynamoDBBackend
from moto.server import ThreadedMotoServer

from devserver.template import create_tables, load_template, table_properties
from tests.conftest import PUBLIC_KEYS, ROOT, SIGNING_KEY, load_event, post_event

WRITERS = 8


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the module (its werkzeug shutdown waits up to half a second): each test resets it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def dynamodb_endpoint(monkeypatch, moto_endpoint) -> Iterator[str]:
    """A moto server holding the template's tables and the JWT secret.

    DynamoDB applies each write to an item atomically: the condition is checked and the update applied as one
    step. moto 5.2.5 does not (update_item reads the item, evaluates the condition and mutates it with no lock),
    so concurrent conditional writes can all succeed there. Serialising moto's write operations gives it
    DynamoDB's per-write atomicity; a handler that read first and wrote later would still race, and fail here.
    """
    lock = threading.RLock()  # re-entrant: transact_write_items calls put_item itself

    def serialised(operation: Any) -> Any:
        @functools.wraps(operation)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return operation(*args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        monkeypatch.setattr(DynamoDBBackend, name, serialised(getattr(DynamoDBBackend, name)))

    monkeypatch.setattr(logging.getLogger("werkzeug"), "disabled", True)  # one access-log line per request
    endpoint = moto_endpoint
    reset = f"{endpoint}/moto-api/reset"
    requests.post(reset, timeout=10).raise_for_status()
    try:
        create_tables(
            boto3.client("dynamodb", endpoint_url=endpoint), table_properties(load_template(ROOT / "template.yaml"))
        )
        secrets = boto3.client("secretsmanager", endpoint_url=endpoint)
        secrets.create_secret(Name="JwtPublicKeys", SecretString=PUBLIC_KEYS)
        secrets.create_secret(Name="JwtSigningKey", SecretString=SIGNING_KEY)  # signup signs
        yield endpoint
    finally:
        requests.post(reset, timeout=10).raise_for_status()


def put_post(endpoint: str, author: str) -> str:
    post_id = str(uuid.uuid4())
    now = "2026-11-27T10:00:00.000000Z"
    boto3.client("dynamodb", endpoint_url=endpoint).put_item(
        TableName="PostsTable",
        Item={
            "id": {"S": post_id},
            "entity": {"S": "post"},
            "title": {"S": "Original"},
            "content": {"S": "Original"},
            "author_id": {"S": author},
            "created_at": {"S": now},
            "updated_at": {"S": now},
            "version": {"N": "1"},
        },
    )
    return post_id


def stored(endpoint: str, post_id: str) -> dict[str, str]:
    item = boto3.client("dynamodb", endpoint_url=endpoint).get_item(TableName="PostsTable", Key={"id": {"S": post_id}})
    return {name: next(iter(value.values())) for name, value in item["Item"].items()}


def access_token(user: str) -> str:
    from apikit.auth import issue_access_token

    return "Bearer " + issue_access_token(user, signing_key=SIGNING_KEY)


def invoke_concurrently(endpoint: str, function: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Start one warm worker per event, then release them all at once; their responses in event order."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only where botocore looks for config
        "PYTHONPATH": os.pathsep.join(["layers/shared", "."]),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POSTS_TABLE": "PostsTable",
        "USERS_TABLE": "UsersTable",
        "SESSIONS_TABLE": "SessionsTable",
        "JWT_PUBLIC_KEYS_ARN": "JwtPublicKeys",
        "JWT_SIGNING_KEY_ARN": "JwtSigningKey",
        "POWERTOOLS_SERVICE_NAME": "api-routes-test",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.unit.lambda_worker", function],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in events
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            assert line.strip() == "READY", line + (worker.stderr.read() if worker.stderr else "")
        for worker, event in zip(workers, events, strict=True):
            assert worker.stdin is not None
            worker.stdin.write(json.dumps(event) + "\n")
            worker.stdin.flush()
        responses = []
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            result = [line for line in out.splitlines() if line.startswith("RESULT ")]
            assert len(result) == 1, out + err
            responses.append(json.loads(result[0].removeprefix("RESULT ")))
        return responses
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def test_concurrent_patches_with_the_same_if_match_have_exactly_one_winner(dynamodb_endpoint):
    post_id = put_post(dynamodb_endpoint, "alice")
    events = [
        post_event(
            "posts_patch/patch.json",
            post_id,
            headers={"authorization": access_token("alice"), "if-match": '"v1"'},
            body={"title": f"writer {n}"},
        )
        for n in range(WRITERS)
    ]

    responses = invoke_concurrently(dynamodb_endpoint, "posts_patch", events)

    statuses = sorted(response["statusCode"] for response in responses)
    assert statuses == [200] + [412] * (WRITERS - 1)
    winner = next(n for n, response in enumerate(responses) if response["statusCode"] == 200)
    assert responses[winner]["headers"]["ETag"] == '"v2"'
    after = stored(dynamodb_endpoint, post_id)
    assert after["title"] == f"writer {winner}"
    assert after["version"] == "2"


def test_concurrent_patches_of_different_fields_lose_nothing(dynamodb_endpoint):
    post_id = put_post(dynamodb_endpoint, "alice")
    changes = [{"title": "New title"}, {"content": "New content"}]
    events = [
        post_event(
            "posts_patch/patch.json",
            post_id,
            headers={"authorization": access_token("alice"), "if-match": None},
            body=change,
        )
        for change in changes
    ]

    responses = invoke_concurrently(dynamodb_endpoint, "posts_patch", events)

    assert [response["statusCode"] for response in responses] == [200, 200]
    assert sorted(response["headers"]["ETag"] for response in responses) == ['"v2"', '"v3"']
    after = stored(dynamodb_endpoint, post_id)
    assert (after["title"], after["content"], after["version"]) == ("New title", "New content", "3")


def test_concurrent_signups_with_one_email_create_one_account(dynamodb_endpoint):
    events = [
        load_event(
            "auth_signup/post.json",
            body={
                "email": f"{'SAME' if n % 2 else 'same'}@example.com",
                "password": "a long password!",
                "name": f"{n}",
            },
        )
        for n in range(WRITERS)
    ]

    responses = invoke_concurrently(dynamodb_endpoint, "auth_signup", events)

    assert sorted(response["statusCode"] for response in responses) == [201] + [409] * (WRITERS - 1)
    items = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint).scan(TableName="UsersTable")["Items"]
    assert sorted(item["pk"]["S"].split("#")[0] for item in items) == ["email", "user"]  # one account, no orphan

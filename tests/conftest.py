"""Shared fixtures: moto's AWS with the template's own tables and secret, handlers loaded by path, sample events."""

from __future__ import annotations

import copy
import functools
import io
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from apikit import keys
from devserver.template import create_tables, load_template, table_properties
from devserver.worker import LambdaContext, load_module
from tests import dynamodb_limits

ROOT = Path(__file__).resolve().parent.parent
# One ES256 key pair for the session, as the rotation function would write them (apikit.keys).
SIGNING_KEY = keys.new_signing_key()
PUBLIC_KEYS = keys.with_public_key('{"keys": []}', SIGNING_KEY)
# The two token-key secrets, for a test's own secrets.local.json (any other value there is not a key).
TOKEN_KEYS = {"JwtSigningKey": SIGNING_KEY, "JwtPublicKeys": PUBLIC_KEYS}
STRIPE_WEBHOOK_SECRET = "whsec_test_" + "w" * 32
STRIPE_API_KEY = "sk_test_" + "k" * 24
WEATHER_API_KEY = "weather-key-" + "q" * 20
CURSOR_KEY = "test-cursor-key-" + "c" * 48  # 64 chars, like the template's generated key

# Set before any handler is imported, as the template would on Lambda: resources are named by logical id.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_SERVICE_NAME": "api-routes-test",
        "POSTS_TABLE": "PostsTable",
        "USERS_TABLE": "UsersTable",
        "SESSIONS_TABLE": "SessionsTable",
        "JWT_SIGNING_KEY_ARN": "JwtSigningKey",
        "JWT_PUBLIC_KEYS_ARN": "JwtPublicKeys",
        "ORDERS_TABLE": "OrdersTable",
        "STRIPE_EVENTS_TABLE": "StripeEventsTable",
        "RATE_LIMIT_TABLE": "RateLimitTable",
        "UPLOADS_BUCKET": "uploadsbucket",  # devserver.template.bucket_name("UploadsBucket")
        "STRIPE_WEBHOOK_SECRET_ARN": "StripeWebhookSecret",
        "STRIPE_API_KEY_ARN": "StripeApiKey",
        "STRIPE_PRICE_IDS": "price_basic, price_pro",
        "CHECKOUT_SUCCESS_URL": "http://localhost:5173/checkout/success?session_id={CHECKOUT_SESSION_ID}",
        "CHECKOUT_CANCEL_URL": "http://localhost:5173/checkout/cancelled",
        "WEATHER_API_KEY_ARN": "WeatherApiKey",
        "CURSOR_KEY_ARN": "CursorKey",
        "WEATHER_API_URL": "http://127.0.0.1:9/unset-by-this-test",  # a weather test points it at its fake
    }
)
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
    os.environ.pop(name, None)


@functools.cache
def _template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@functools.cache
def _key_schemas() -> dict[str, dict[str, str]]:
    return dynamodb_limits.key_schemas(table_properties(_template()))


@functools.cache
def _client(service: str) -> Any:
    # Clients outlive a mock_aws block: moto answers every client's calls while a mock is active, so one
    # client per service (as in a warm Lambda container) saves ~40 ms of botocore set-up per test.
    return boto3.client(service)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto's DynamoDB and Secrets Manager holding what template.yaml declares, with every cached value reset."""
    from aws_lambda_powertools.utilities import parameters

    from apikit.config import get_settings
    from apikit.repositories import dynamodb

    get_settings.cache_clear()
    parameters.clear_caches()
    # What DynamoDB would refuse and moto accepts (an IN of 101 operands, a 2 KB sort key) fails the test.
    dynamodb_limits.enforce_on(dynamodb(), _key_schemas())
    with mock_aws():
        create_tables(_client("dynamodb"), table_properties(_template()))
        _client("secretsmanager").create_secret(Name="JwtSigningKey", SecretString=SIGNING_KEY)
        _client("secretsmanager").create_secret(Name="JwtPublicKeys", SecretString=PUBLIC_KEYS)
        _client("secretsmanager").create_secret(Name="StripeWebhookSecret", SecretString=STRIPE_WEBHOOK_SECRET)
        _client("secretsmanager").create_secret(Name="StripeApiKey", SecretString=STRIPE_API_KEY)
        _client("secretsmanager").create_secret(Name="WeatherApiKey", SecretString=WEATHER_API_KEY)
        _client("secretsmanager").create_secret(Name="CursorKey", SecretString=CURSOR_KEY)
        yield
    parameters.clear_caches()


_loaded: dict[str, ModuleType] = {}


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every function's module is called `app`)."""
    if name not in _loaded:
        # As on Lambda, the function's directory is on sys.path: app.py imports its own modules by their names.
        directory = str(ROOT / "functions" / name)
        if directory not in sys.path:
            sys.path.append(directory)
        _loaded[name] = load_module(ROOT / "functions" / name / "app.py", f"fn_{name}")
    return _loaded[name]


def load_event(sample: str, **changes: Any) -> dict[str, Any]:
    """A sample event from events/, with a fresh request id and the given top-level or header changes.

    `headers={...}` merges into the sample's headers (a None value removes one); `body` given as a dict is
    JSON-encoded; `path` sets rawPath, requestContext.http.path and the `id` path parameter where there is one.
    """
    event: dict[str, Any] = copy.deepcopy(json.loads((ROOT / "events" / sample).read_text()))
    event["requestContext"]["requestId"] = uuid.uuid4().hex
    for header, value in changes.pop("headers", {}).items():
        if value is None:
            event["headers"].pop(header, None)
        else:
            event["headers"][header] = value
    if "body" in changes:
        body = changes.pop("body")
        event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    if "method" in changes:
        event["requestContext"]["http"]["method"] = changes.pop("method")
    if "path" in changes:
        path_value = changes.pop("path")
        event["rawPath"] = event["requestContext"]["http"]["path"] = path_value
        if "id" in event.get("pathParameters", {}):
            event["pathParameters"]["id"] = path_value.rsplit("/", 1)[-1]
    if "query" in changes:
        query: dict[str, str] = changes.pop("query")
        event["queryStringParameters"] = query or None
        event["rawQueryString"] = "&".join(f"{key}={value}" for key, value in query.items())
    event.update(changes)
    return event


@dataclass
class Result:
    status: int
    headers: dict[str, str]
    body: str
    cookies: list[str]
    raw: dict[str, Any]

    @classmethod
    def of(cls, response: dict[str, Any]) -> Result:
        """A handler's answer, its header names lower-cased."""
        return cls(
            status=response["statusCode"],
            headers={key.lower(): value for key, value in response.get("headers", {}).items()},
            body=response.get("body", ""),
            cookies=response.get("cookies", []),
            raw=response,
        )

    def json(self) -> Any:
        return json.loads(self.body)


def invoke(function: str, event: dict[str, Any], context: LambdaContext | None = None) -> Result:
    """Call the function's handler, by default with 10 s left in the invocation (the template's Timeout)."""
    context = context or LambdaContext("test-function", 512, 10)
    return Result.of(load_function(function).lambda_handler(event, context))


def invoke_fresh_app(
    answer: Callable[[], Any], function_name: str = "test-function", path: str = "/api/fresh"
) -> Result:
    """GET `path` from an app made in the calling test itself (create_app, a route calling `answer`, make_handler),
    not from a function's module. What runs when a function's module is imported (create_app, make_handler) is
    mapped, by mutation testing, only to the first test that imports it (docs/testing.md): a test of what every
    function gets from them calls them itself."""
    from apikit.app import create_app, make_handler

    app = create_app()
    app.get(path)(answer)
    event = load_event("health/get.json", path=path)
    event["routeKey"] = f"GET {path}"
    return Result.of(make_handler(app)(event, LambdaContext(function_name, 512, 10)))


def bearer(user_id: str) -> str:
    from apikit.auth import issue_access_token

    return f"Bearer {issue_access_token(user_id)}"


@pytest.fixture
def create_post(aws: None) -> Callable[..., dict[str, Any]]:
    """Create a post through the POST handler and return its JSON (with `etag`)."""

    def create(author: str = "alice", title: str = "A title", content: str = "Some content") -> dict[str, Any]:
        result = invoke(
            "posts_create",
            load_event(
                "posts_create/post.json",
                headers={"authorization": bearer(author)},
                body={"title": title, "content": content},
            ),
        )
        assert result.status == 201, result.body
        return {**result.json(), "etag": result.headers["etag"]}

    return create


# Helpers several test modules share.


def post_event(sample: str, post_id: str, **changes: Any) -> dict[str, Any]:
    """A sample event aimed at /api/posts/<post_id>."""
    return load_event(sample, path=f"/api/posts/{post_id}", **changes)


def fetch_post(post_id: str) -> Result:
    """GET /api/posts/<post_id> unconditionally (the sample event carries an If-None-Match)."""
    return invoke("posts_get", post_event("posts_get/get.json", post_id, headers={"if-none-match": None}))


def assert_problem(result: Result, status: int, instance: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem+json answer with this status (and instance, if given); return its body."""
    assert result.status == status, result.body
    assert result.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = result.json()
    assert body["type"] == "about:blank"
    assert body["title"] == HTTPStatus(status).phrase
    assert body["status"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if instance is not None:
        assert body["instance"] == instance
    return body


WRITES = {
    "PUT": ("posts_replace", "posts_replace/put.json"),
    "PATCH": ("posts_patch", "posts_patch/patch.json"),
    "DELETE": ("posts_delete", "posts_delete/delete.json"),
}


def write_post(method: str, post_id: str, user: str | None = "alice", **changes: Any) -> Result:
    """PUT, PATCH or DELETE /api/posts/<post_id> as `user` (None: no Authorization) with the sample's body.

    The samples' If-Match is dropped unless `headers` brings one, so a write is unconditional by default.
    """
    function, sample = WRITES[method]
    headers = {"if-match": None, "authorization": bearer(user) if user else None, **changes.pop("headers", {})}
    return invoke(function, post_event(sample, post_id, headers=headers, **changes))


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the shared Powertools Logger writes (its handler holds the stdout of import time, not capsys')."""
    from apikit.logging import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream

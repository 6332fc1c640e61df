"""Sessions that survive real browsers: a grace window for a just-rotated refresh token, reuse told apart from a
throttle, an absolute lifetime refresh never extends, and a login that reads what sign-up just wrote."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.unit.test_auth import login, signup


@pytest.fixture
def calls() -> Iterator[Callable[[str], list[dict[str, Any]]]]:
    """The parameters of every call the shared (moto-backed) DynamoDB client makes, by operation name."""
    from apikit.repositories import dynamodb

    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append((model.name, dict(params)))

    events = dynamodb().meta.events
    events.register("before-parameter-build.dynamodb.*", record, unique_id="test-sessions-spy")
    try:
        yield lambda operation: [params for name, params in seen if name == operation]
    finally:
        events.unregister("before-parameter-build.dynamodb.*", unique_id="test-sessions-spy")


def test_login_reads_the_credentials_and_the_profile_strongly_consistently(aws, calls):
    """Right after sign-up an eventually consistent read may not see the new user yet: login must not fail."""
    user_id = signup().json()["user"]["id"]

    assert login().status == 200

    reads = [params for params in calls("GetItem") if params["TableName"] == "UsersTable"]
    assert {params["Key"]["pk"]["S"] for params in reads} == {"email#ada@example.com", f"user#{user_id}"}
    assert all(params.get("ConsistentRead") is True for params in reads), reads

"""Sessions that survive real browsers: a grace window for a just-rotated refresh token, reuse told apart from a
throttle, an absolute lifetime refresh never extends, and a login that reads what sign-up just wrote."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.unit.test_auth import login, logout, refresh, refresh_cookie, signup

DAY = 24 * 3600


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """time.time() under the test's control (the sessions repository's and the access token's clock)."""
    fake = Clock()
    monkeypatch.setattr(time, "time", lambda: fake.now)
    return fake


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set environment variables the settings read, and read them again."""
    from apikit.config import get_settings

    def change(**variables: str) -> None:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield change
    get_settings.cache_clear()


def session_items() -> list[dict[str, Any]]:
    from apikit.repositories import dynamodb

    return dynamodb().scan(TableName="SessionsTable", ConsistentRead=True)["Items"]


def families() -> list[dict[str, Any]]:
    return [item for item in session_items() if item["pk"]["S"].startswith("family#")]


def tokens() -> list[dict[str, Any]]:
    return [item for item in session_items() if item["pk"]["S"].startswith("token#")]


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


def test_refresh_never_extends_a_session_past_its_absolute_lifetime(aws, clock):
    login_at = int(clock.now)
    first = refresh_cookie(signup())

    clock.advance(20 * DAY)
    rotated = refresh(first)
    assert rotated.status == 200
    second = refresh_cookie(rotated)

    [family] = families()
    assert int(family["login_at"]["N"]) == login_at
    assert int(family["expires_at"]["N"]) == login_at + 30 * DAY  # not 20 + 30 days
    for item in tokens():
        assert int(item["expires_at"]["N"]) <= login_at + 30 * DAY

    clock.advance(10 * DAY - 1)
    third = refresh(second)
    assert third.status == 200  # inside the 30 days
    clock.advance(1)
    assert refresh(refresh_cookie(third)).status == 401  # 30 days after login, however young the token


def test_the_absolute_lifetime_is_configurable_and_caps_the_first_token_too(aws, clock, settings):
    settings(SESSION_MAX_SECONDS="3600")
    login_at = int(clock.now)
    token = refresh_cookie(signup())

    [family], [item] = families(), tokens()
    assert int(family["expires_at"]["N"]) == int(item["expires_at"]["N"]) == login_at + 3600

    clock.advance(3599)
    token = refresh_cookie(refresh(token))
    clock.advance(1)
    assert refresh(token).status == 401


def test_an_expired_session_is_401_even_with_a_fresh_token(aws, clock):
    token = refresh_cookie(signup())
    for _ in range(3):  # each refresh two weeks apart: every token is young, the session is not
        clock.advance(14 * DAY)
        result = refresh(token)
        if result.status != 200:
            break
        token = refresh_cookie(result)

    assert result.status == 401
    assert 'error="invalid_token"' in result.headers["www-authenticate"]


def test_logout_of_a_session_whose_family_is_gone_writes_no_item_without_an_expiry(aws):
    from apikit.repositories import dynamodb

    token = refresh_cookie(signup())
    [family] = families()
    dynamodb().delete_item(TableName="SessionsTable", Key={"pk": family["pk"]})  # expired by TTL, say

    assert logout(token).status == 204
    assert refresh(token).status == 401

    assert families() == []
    assert all("expires_at" in item for item in session_items())

"""Settings (apikit.config): what each environment variable sets, and what a function runs with when it is unset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict

import pytest

from apikit.config import Settings, get_settings

VARIABLES = {
    "posts_table": "POSTS_TABLE",
    "posts_list_shards": "POSTS_LIST_SHARDS",
    "posts_list_index": "POSTS_LIST_INDEX",
    "users_table": "USERS_TABLE",
    "sessions_table": "SESSIONS_TABLE",
    "orders_table": "ORDERS_TABLE",
    "stripe_events_table": "STRIPE_EVENTS_TABLE",
    "uploads_bucket": "UPLOADS_BUCKET",
    "jwt_issuer": "JWT_ISSUER",
    "jwt_audience": "JWT_AUDIENCE",
    "access_token_ttl_seconds": "ACCESS_TOKEN_TTL_SECONDS",
    "refresh_token_ttl_seconds": "REFRESH_TOKEN_TTL_SECONDS",
    "refresh_reuse_grace_seconds": "REFRESH_REUSE_GRACE_SECONDS",
    "session_max_seconds": "SESSION_MAX_SECONDS",
    "secret_cache_seconds": "SECRET_CACHE_SECONDS",
    "max_body_bytes": "MAX_BODY_BYTES",
}


INTEGER_SUFFIXES = ("_seconds", "_bytes", "_shards")


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """get_settings() reads the environment once per process: read it again, and forget it for the next test."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_every_setting_has_a_default_when_its_variable_is_unset(monkeypatch, fresh_settings):
    for variable in VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)

    assert get_settings() == Settings(
        posts_table="posts",
        posts_list_shards=16,
        posts_list_index="ByShard",
        users_table="users",
        sessions_table="sessions",
        orders_table="orders",
        stripe_events_table="stripe-events",
        uploads_bucket="uploads",
        jwt_issuer="api-routes",
        jwt_audience="api-routes",
        access_token_ttl_seconds=900,
        refresh_token_ttl_seconds=30 * 24 * 3600,
        refresh_reuse_grace_seconds=10,
        session_max_seconds=30 * 24 * 3600,
        secret_cache_seconds=300,
        max_body_bytes=262144,
    )


def test_each_setting_is_read_from_its_own_variable(monkeypatch, fresh_settings):
    # A distinct value per variable, so a setting read from another's variable shows.
    for number, (field, variable) in enumerate(VARIABLES.items(), start=1):
        monkeypatch.setenv(variable, str(1000 + number) if field.endswith(INTEGER_SUFFIXES) else f"v-{field}")

    settings = asdict(get_settings())

    for number, (field, _) in enumerate(VARIABLES.items(), start=1):
        assert settings[field] == (1000 + number if field.endswith(INTEGER_SUFFIXES) else f"v-{field}")


def test_the_environment_is_read_once_per_process(monkeypatch, fresh_settings):
    monkeypatch.setenv("POSTS_TABLE", "first")
    first = get_settings()
    monkeypatch.setenv("POSTS_TABLE", "second")

    assert get_settings() is first
    assert get_settings().posts_table == "first"

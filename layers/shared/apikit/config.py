"""Settings read from the environment that template.yaml sets for every function."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Settings:
    posts_table: str
    posts_list_shards: int
    posts_list_index: str
    users_table: str
    sessions_table: str
    orders_table: str
    stripe_events_table: str
    uploads_bucket: str
    jwt_issuer: str
    jwt_audience: str
    access_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    refresh_reuse_grace_seconds: int
    session_max_seconds: int
    secret_cache_seconds: int
    max_body_bytes: int


@cache
def get_settings() -> Settings:
    # Read on first use, not at import: functions must import without any AWS environment.
    env = os.environ
    return Settings(
        posts_table=env.get("POSTS_TABLE", "posts"),
        # How many partitions GET /api/posts's index spreads posts over, and the index it lists from
        # (apikit.repositories.posts; ByCreatedAt only while an existing stack migrates: docs/scale.md).
        posts_list_shards=int(env.get("POSTS_LIST_SHARDS", "16")),
        posts_list_index=env.get("POSTS_LIST_INDEX", "ByShard"),
        users_table=env.get("USERS_TABLE", "users"),
        sessions_table=env.get("SESSIONS_TABLE", "sessions"),
        orders_table=env.get("ORDERS_TABLE", "orders"),
        stripe_events_table=env.get("STRIPE_EVENTS_TABLE", "stripe-events"),
        uploads_bucket=env.get("UPLOADS_BUCKET", "uploads"),
        jwt_issuer=env.get("JWT_ISSUER", "api-routes"),
        jwt_audience=env.get("JWT_AUDIENCE", "api-routes"),
        access_token_ttl_seconds=int(env.get("ACCESS_TOKEN_TTL_SECONDS", "900")),
        refresh_token_ttl_seconds=int(env.get("REFRESH_TOKEN_TTL_SECONDS", str(30 * 24 * 3600))),
        # A rotated refresh token presented again this soon gets the same successor (two tabs, a lost response).
        refresh_reuse_grace_seconds=int(env.get("REFRESH_REUSE_GRACE_SECONDS", "10")),
        # A session ends this long after its login, however often it is refreshed.
        session_max_seconds=int(env.get("SESSION_MAX_SECONDS", str(30 * 24 * 3600))),
        secret_cache_seconds=int(env.get("SECRET_CACHE_SECONDS", "300")),
        max_body_bytes=int(env.get("MAX_BODY_BYTES", "262144")),
    )

"""Refresh tokens, stored only as SHA-256 hashes, grouped in families that rotate: each token works once,
and presenting a used one revokes its whole family (RFC 9700 refresh token rotation).

A family is one login. It records when the login happened (`login_at`) and ends `SESSION_MAX_SECONDS` later
however often it is refreshed: no token's `expires_at`, nor the family's, is ever past `login_at` + max. Every
item carries `expires_at` (the table's TTL attribute), and no write creates a family item without one."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from apikit.config import get_settings
from apikit.errors import Unauthorized
from apikit.repositories import dynamodb


@dataclass(frozen=True)
class Session:
    user_id: str
    refresh_token: str


def _token_key(token: str) -> dict[str, Any]:
    # 256 random bits need no salt or slow hash: SHA-256 keeps a stolen table from being usable.
    return {"pk": {"S": "token#" + hashlib.sha256(token.encode()).hexdigest()}}


def _family_key(family_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"family#{family_id}"}}


def _expiry(login_at: int, now: int) -> int:
    """A token issued `now` lives its TTL, but never past the end of its session."""
    settings = get_settings()
    return min(now + settings.refresh_token_ttl_seconds, login_at + settings.session_max_seconds)


def invalid_refresh_token() -> Unauthorized:
    return Unauthorized("The refresh token is invalid or expired.", invalid_token=True)


class SessionsRepository:
    @property
    def table(self) -> str:
        return get_settings().sessions_table

    def _token_put(self, token: str, family_id: str, user_id: str, login_at: int, expires_at: int) -> dict[str, Any]:
        item = {
            **_token_key(token),
            "family_id": {"S": family_id},
            "user_id": {"S": user_id},
            "used": {"BOOL": False},
            "login_at": {"N": str(login_at)},
            "expires_at": {"N": str(expires_at)},
        }
        return {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def start(self, user_id: str) -> Session:
        """A new family with its first token."""
        token, family_id = secrets.token_urlsafe(32), uuid.uuid4().hex
        login_at = int(time.time())
        expires_at = _expiry(login_at, login_at)
        family = {
            **_family_key(family_id),
            "user_id": {"S": user_id},
            "revoked": {"BOOL": False},
            "login_at": {"N": str(login_at)},
            "expires_at": {"N": str(expires_at)},
        }
        dynamodb().transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": family}},
                self._token_put(token, family_id, user_id, login_at, expires_at),
            ]
        )
        return Session(user_id=user_id, refresh_token=token)

    def rotate(self, token: str) -> Session:
        """Spend `token` for a new one in the same family, atomically; a second use revokes the family."""
        now = int(time.time())
        item = dynamodb().get_item(TableName=self.table, Key=_token_key(token), ConsistentRead=True).get("Item")
        if item is None or int(item["expires_at"]["N"]) <= now:
            raise invalid_refresh_token()
        family_id, user_id = item["family_id"]["S"], item["user_id"]["S"]
        if item["used"]["BOOL"]:
            self._revoke_family(family_id)
            raise invalid_refresh_token()
        new_token = secrets.token_urlsafe(32)
        # A token from before login_at was recorded: its session counts from now, once.
        login_at = int(item["login_at"]["N"]) if "login_at" in item else now
        expires_at = _expiry(login_at, now)
        try:
            dynamodb().transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _token_key(token),
                            "UpdateExpression": "SET used = :true",
                            "ConditionExpression": "used = :false",
                            "ExpressionAttributeValues": {":true": {"BOOL": True}, ":false": {"BOOL": False}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _family_key(family_id),
                            "UpdateExpression": "SET expires_at = :expires, login_at = if_not_exists(login_at, :login)",
                            # Never creates the family: a missing one has no `revoked`, so the condition fails.
                            "ConditionExpression": "revoked = :false AND expires_at > :now",
                            "ExpressionAttributeValues": {
                                ":expires": {"N": str(expires_at)},
                                ":login": {"N": str(login_at)},
                                ":now": {"N": str(now)},
                                ":false": {"BOOL": False},
                            },
                        }
                    },
                    self._token_put(new_token, family_id, user_id, login_at, expires_at),
                ]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            # Spent concurrently (a replay racing the real client) or the family is revoked: either way, revoke.
            self._revoke_family(family_id)
            raise invalid_refresh_token() from error
        return Session(user_id=user_id, refresh_token=new_token)

    def revoke(self, token: str) -> None:
        item = dynamodb().get_item(TableName=self.table, Key=_token_key(token), ConsistentRead=True).get("Item")
        if item is not None:
            self._revoke_family(item["family_id"]["S"])

    def _revoke_family(self, family_id: str) -> None:
        try:
            dynamodb().update_item(
                TableName=self.table,
                Key=_family_key(family_id),
                UpdateExpression="SET revoked = :true",
                # A family already gone (expired by TTL) stays gone: no item without expires_at.
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

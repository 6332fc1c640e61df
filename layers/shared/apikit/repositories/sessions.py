"""Refresh tokens, stored only as SHA-256 hashes, grouped in families that rotate: each token works once,
and presenting a used one revokes its whole family (RFC 9700 refresh token rotation)."""

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


def invalid_refresh_token() -> Unauthorized:
    return Unauthorized("The refresh token is invalid or expired.", invalid_token=True)


class SessionsRepository:
    @property
    def table(self) -> str:
        return get_settings().sessions_table

    def _token_put(self, token: str, family_id: str, user_id: str, expires_at: int) -> dict[str, Any]:
        item = {
            **_token_key(token),
            "family_id": {"S": family_id},
            "user_id": {"S": user_id},
            "used": {"BOOL": False},
            "expires_at": {"N": str(expires_at)},
        }
        return {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    def start(self, user_id: str) -> Session:
        """A new family with its first token."""
        token, family_id = secrets.token_urlsafe(32), uuid.uuid4().hex
        expires_at = int(time.time()) + get_settings().refresh_token_ttl_seconds
        family = {
            **_family_key(family_id),
            "user_id": {"S": user_id},
            "revoked": {"BOOL": False},
            "expires_at": {"N": str(expires_at)},
        }
        dynamodb().transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": family}},
                self._token_put(token, family_id, user_id, expires_at),
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
        expires_at = now + get_settings().refresh_token_ttl_seconds
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
                            "UpdateExpression": "SET expires_at = :expires",
                            "ConditionExpression": "revoked = :false",
                            "ExpressionAttributeValues": {
                                ":expires": {"N": str(expires_at)},
                                ":false": {"BOOL": False},
                            },
                        }
                    },
                    self._token_put(new_token, family_id, user_id, expires_at),
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
        dynamodb().update_item(
            TableName=self.table,
            Key=_family_key(family_id),
            UpdateExpression="SET revoked = :true",
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )

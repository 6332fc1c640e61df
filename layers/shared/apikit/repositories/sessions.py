"""Refresh tokens, stored only as SHA-256 hashes, grouped in families that rotate: each token works once,
and presenting a used one revokes its whole family (RFC 9700 refresh token rotation, section 4.14.2).

Real clients present a token twice without being thieves: two tabs refresh at once, or a response is lost and
the request retried. So a token presented again within `REFRESH_REUSE_GRACE_SECONDS` (10) of its rotation gets
the same successor it gave the first time (with a fresh access token), unless the family was revoked or has
ended meanwhile; only a later reuse revokes the family.
Two requests racing on one token end the same way: the loser's transaction fails its condition on the token,
and the token it then sees is one just rotated. The window is the usual trade-off (Auth0 and Okta have one too):
a thief replaying a token within seconds of its rotation gets the session as well, and is caught the moment
either party uses a token the other already spent, after the window.

Answering with the same successor means recovering it, and the table holds no usable token, only hashes. The
successor is stored on the spent token's item wrapped under a key derived from the spent token itself:
`successor XOR HMAC-SHA256(key=spent token, "refresh-token-successor")`, 32 bytes. Whoever presents the spent
token can unwrap it; the table alone (hashes and wrapped bytes) cannot, as SHA-256 of the token does not give
the HMAC keyed with it. Each key wraps one value only (a token is spent once, conditionally), so the XOR is a
one-time pad. No server key is needed, and none can leak or need rotating.

Only a failed condition on the token itself is a reuse. A rotation DynamoDB cancels for a throttle or a
conflicting transaction decided nothing (the token is unspent; `apikit.aws.unavailable` makes it a 503 with
Retry-After), a failed condition on the family means it was revoked or ended meanwhile (401, nothing more to
revoke), and any other failure is an error, never a reason to log the user out everywhere.

A family is one login. It records when the login happened (`login_at`) and ends `SESSION_MAX_SECONDS` later
however often it is refreshed: no token's `expires_at`, nor the family's, is ever past `login_at` + max. Every
item carries `expires_at` (the table's TTL attribute), and no write creates a family item without one."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from apikit.config import get_settings
from apikit.encoding import base64url
from apikit.errors import Unauthorized
from apikit.repositories import cancellation_reasons, dynamodb


@dataclass(frozen=True)
class Session:
    user_id: str
    refresh_token: str


def _new_token() -> tuple[str, bytes]:
    """256 random bits, as `secrets.token_urlsafe(32)` spells them (43 characters), and the bits themselves."""
    raw = secrets.token_bytes(32)
    return base64url(raw), raw


def _wrap(successor: bytes, spent_token: str) -> bytes:
    """The successor XOR a pad only the spent token gives: the same operation wraps and unwraps."""
    pad = hmac.digest(spent_token.encode(), b"refresh-token-successor", "sha256")
    return bytes(a ^ b for a, b in zip(successor, pad, strict=True))


def _unwrap(wrapped: bytes, spent_token: str) -> str:
    return base64url(_wrap(wrapped, spent_token))


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

    def _token_item(self, token: str) -> dict[str, Any] | None:
        answer: dict[str, Any] = dynamodb().get_item(TableName=self.table, Key=_token_key(token), ConsistentRead=True)
        return answer.get("Item")

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

    def start(self, user_id: str) -> str:
        """A new family with its first token, which it returns."""
        (token, _), family_id = _new_token(), uuid.uuid4().hex
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
        return token

    def rotate(self, token: str) -> Session:
        """Spend `token` for a new one in the same family, atomically. Presented again within the grace window,
        the same new one; later, the family is revoked."""
        now = int(time.time())
        item = self._token_item(token)
        if item is None or int(item["expires_at"]["N"]) <= now:
            raise invalid_refresh_token()
        family_id, user_id = item["family_id"]["S"], item["user_id"]["S"]
        if item["used"]["BOOL"]:
            return self._spent_again(token, item, now)
        new_token, successor = _new_token()
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
                            "UpdateExpression": "SET used = :true, used_at = :now, successor = :successor",
                            "ConditionExpression": "used = :false",
                            "ExpressionAttributeValues": {
                                ":true": {"BOOL": True},
                                ":false": {"BOOL": False},
                                ":now": {"N": str(now)},
                                ":successor": {"B": _wrap(successor, token)},
                            },
                            # Spent meanwhile: the item as the other request left it, in the same answer.
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
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
            reasons = cancellation_reasons(error)
            on_token, on_family = [*reasons, {}, {}][:2]  # in TransactItems' order
            if on_token.get("Code") == "ConditionalCheckFailed":
                if "Item" not in on_token:  # gone since it was read (expired by TTL)
                    raise invalid_refresh_token() from error
                # Spent since it was read: a double-submit racing this request, which the window covers.
                return self._spent_again(token, on_token["Item"], now)
            if on_family.get("Code") == "ConditionalCheckFailed":  # revoked or ended since: nothing to revoke
                raise invalid_refresh_token() from error
            if reasons:  # cancelled (a conflict, a throttle): another request may have spent this token meanwhile,
                # and then its successor is this one's too.
                again = self._token_item(token)
                if again is not None and again["used"]["BOOL"]:
                    return self._spent_again(token, again, now)
            raise  # a throttle (503, see apikit.aws.unavailable) or an error (500): the token stays unspent
        return Session(user_id=user_id, refresh_token=new_token)

    def _spent_again(self, token: str, item: dict[str, Any], now: int) -> Session:
        """A used token presented again: its successor within the grace window, else the family is revoked."""
        family_id = item["family_id"]["S"]
        grace = get_settings().refresh_reuse_grace_seconds
        if "successor" not in item or now >= int(item["used_at"]["N"]) + grace:
            self._revoke_family(family_id)  # a thief's replay, or its victim's: the session ends for both
            raise invalid_refresh_token()
        family = dynamodb().get_item(TableName=self.table, Key=_family_key(family_id), ConsistentRead=True).get("Item")
        if family is None or family["revoked"]["BOOL"] or int(family["expires_at"]["N"]) <= now:
            raise invalid_refresh_token()
        return Session(user_id=item["user_id"]["S"], refresh_token=_unwrap(item["successor"]["B"], token))

    def revoke(self, token: str) -> None:
        item = self._token_item(token)
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
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":  # botocore always sets both
                raise

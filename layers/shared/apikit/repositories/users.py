"""Users in DynamoDB: a profile item per user and a credentials item per email, written together in one
transaction, so that an email can belong to one user only (no read-then-write)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from apikit.config import get_settings
from apikit.errors import Conflict
from apikit.repositories import batch_get, dynamodb


class User(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5b0e7c1d-2f3a-4b5c-8d9e-0a1b2c3d4e5f",
                    "email": "ada@example.com",
                    "name": "Ada",
                    "created_at": "2026-11-27T10:00:00.000000Z",
                }
            ]
        }
    )
    id: str
    email: str
    name: str
    created_at: str


class Profile(BaseModel):
    """What any user may read of another: never the email."""

    id: str
    name: str


@dataclass(frozen=True)
class Credentials:
    user_id: str
    password_hash: str


def _user_key(user_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"user#{user_id}"}}


def _email_key(email: str) -> dict[str, Any]:
    return {"pk": {"S": f"email#{email}"}}


_PUBLIC = {"#id": "id", "#name": "name"}  # `name` is a DynamoDB reserved word


class UsersRepository:
    @property
    def table(self) -> str:
        return get_settings().users_table

    def create(self, email: str, name: str, password_hash: str) -> User:
        user = User(
            id=str(uuid.uuid4()),
            email=email,
            name=name,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        )
        profile = {
            **_user_key(user.id),
            "id": {"S": user.id},
            "email": {"S": email},
            "name": {"S": name},
            "created_at": {"S": user.created_at},
        }
        credentials = {**_email_key(email), "user_id": {"S": user.id}, "password_hash": {"S": password_hash}}
        new_item = "attribute_not_exists(pk)"
        try:
            dynamodb().transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": profile, "ConditionExpression": new_item}},
                    {"Put": {"TableName": self.table, "Item": credentials, "ConditionExpression": new_item}},
                ]
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":  # botocore always sets both
                raise Conflict("An account with this email already exists.") from error
            raise
        return user

    def credentials(self, email: str) -> Credentials | None:
        item = dynamodb().get_item(TableName=self.table, Key=_email_key(email), ConsistentRead=True).get("Item")
        if item is None:
            return None
        return Credentials(user_id=item["user_id"]["S"], password_hash=item["password_hash"]["S"])

    def get(self, user_id: str, *, consistent: bool = False) -> User | None:
        """`consistent`: read what a write just committed (login right after sign-up); twice the read cost."""
        item = dynamodb().get_item(TableName=self.table, Key=_user_key(user_id), ConsistentRead=consistent).get("Item")
        if item is None:
            return None
        return User(
            id=item["id"]["S"], email=item["email"]["S"], name=item["name"]["S"], created_at=item["created_at"]["S"]
        )

    def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        """The profiles of the users in `user_ids` (at most 100) that exist, by id, in one BatchGetItem."""
        keys = [_user_key(user_id) for user_id in dict.fromkeys(user_ids)]
        if not keys:
            return {}
        # Only the public fields are read: an email never leaves the table through this call.
        items = batch_get(self.table, keys, ProjectionExpression="#id, #name", ExpressionAttributeNames=_PUBLIC)
        return {item["id"]["S"]: Profile(id=item["id"]["S"], name=item["name"]["S"]) for item in items}

    def replace_hash(self, email: str, user_id: str, password_hash: str) -> None:
        dynamodb().update_item(
            TableName=self.table,
            Key=_email_key(email),
            UpdateExpression="SET password_hash = :hash",
            ConditionExpression="user_id = :user",
            ExpressionAttributeValues={":hash": {"S": password_hash}, ":user": {"S": user_id}},
        )

"""Orders in DynamoDB, one per Stripe Checkout Session, written only by the Stripe webhook.

Stripe may deliver events late, twice or out of order, so every write is one UpdateItem that is safe to repeat:
the fields a session fixes are set with if_not_exists, and only a final payment event (async succeeded/failed)
overwrites payment_status. Recording the same session twice changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from apikit.config import get_settings
from apikit.repositories import dynamodb
from apikit.repositories.pages import query_page

INDEX_USER = "ByUser"
_CURSOR_KEYS = {"id", "user_id", "created_at"}
_LAST_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z, the last second a datetime can hold


class Order(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "cs_test_a1b2c3",
                    "customer_email": "ada@example.com",
                    "amount_total": 2000,
                    "currency": "eur",
                    "payment_status": "paid",
                    "created_at": "2026-11-27T10:00:00Z",
                }
            ]
        }
    )
    id: str = Field(description="The Stripe Checkout Session id.")
    customer_email: str | None
    amount_total: int | None = Field(description="In the currency's smallest unit (cents).")
    currency: str | None
    payment_status: Literal["paid", "unpaid", "no_payment_required", "failed"]
    created_at: str


class OrderPage(BaseModel):
    items: list[Order]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class CustomerDetails(BaseModel):
    email: str | None = None


class CheckoutSession(BaseModel):
    """The fields of a Stripe `checkout.session` object that an order keeps (Stripe sends many more)."""

    id: str = Field(min_length=1, max_length=255)
    client_reference_id: str | None = Field(default=None, max_length=200)
    customer_email: str | None = None
    customer_details: CustomerDetails | None = None
    amount_total: int | None = None
    currency: str | None = None
    payment_status: Literal["paid", "unpaid", "no_payment_required"] = "unpaid"
    created: int = Field(ge=0, le=_LAST_TIMESTAMP)

    def email(self) -> str | None:
        return self.customer_email or (self.customer_details.email if self.customer_details else None)


def _string_or_null(value: str | None) -> dict[str, Any]:
    return {"S": value} if value else {"NULL": True}


def _to_order(item: dict[str, Any]) -> Order:
    # OrdersRepository.record writes every attribute, as a value or as {"NULL": true}.
    amount = item["amount_total"].get("N")
    return Order(
        id=item["id"]["S"],
        customer_email=item["customer_email"].get("S"),
        amount_total=int(amount) if amount is not None else None,
        currency=item["currency"].get("S"),
        payment_status=item["payment_status"]["S"],
        created_at=item["created_at"]["S"],
    )


class OrdersRepository:
    @property
    def table(self) -> str:
        return get_settings().orders_table

    def record(self, session: CheckoutSession, final_status: Literal["paid", "failed"] | None = None) -> None:
        """Create the session's order if it is new; a final payment status overwrites the one it had."""
        created_at = datetime.fromtimestamp(session.created, UTC).isoformat().replace("+00:00", "Z")
        fixed = {
            "customer_email": _string_or_null(session.email()),
            "amount_total": {"N": str(session.amount_total)} if session.amount_total is not None else {"NULL": True},
            "currency": _string_or_null(session.currency),
            "created_at": {"S": created_at},
        }
        if session.client_reference_id:
            fixed["user_id"] = {"S": session.client_reference_id}  # only orders with a user appear in ByUser
        names = {f"#{name}": name for name in [*fixed, "payment_status"]}
        values = {f":{name}": value for name, value in fixed.items()}
        assignments = [f"#{name} = if_not_exists(#{name}, :{name})" for name in fixed]
        if final_status is None:
            assignments.append("#payment_status = if_not_exists(#payment_status, :payment_status)")
            values[":payment_status"] = {"S": session.payment_status}
        else:
            assignments.append("#payment_status = :payment_status")
            values[":payment_status"] = {"S": final_status}
        dynamodb().update_item(
            TableName=self.table,
            Key={"id": {"S": session.id}},
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def page(self, user_id: str, limit: int, cursor: str | None = None) -> OrderPage:
        items, next_cursor = query_page(self.table, INDEX_USER, _CURSOR_KEYS, ("user_id", user_id), limit, cursor)
        return OrderPage(items=[_to_order(item) for item in items], next_cursor=next_cursor)

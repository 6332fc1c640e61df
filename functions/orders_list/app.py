"""GET /api/orders: the caller's orders (recorded by the Stripe webhook), newest first, paginated like posts."""

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, Field

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.repositories.orders import OrderPage, OrdersRepository
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route

app = create_app()
orders = OrdersRepository()


class OrdersQuery(BaseModel):
    limit: int = Field(default=20, ge=1, le=100, description="Orders per page.")
    cursor: str | None = Field(
        default=None, min_length=1, max_length=2048, description="`next_cursor` from the previous page."
    )


@route(
    app,
    "GET",
    "/api/orders",
    summary="The caller's orders",
    security=BEARER_AUTH,
    query=OrdersQuery,
    response=OrderPage,
)
def list_orders(user: Principal, query: OrdersQuery) -> Response[str]:
    return json_response(orders.page(user.user_id, query.limit, query.cursor), headers={"Cache-Control": "no-store"})


lambda_handler = make_handler(app)

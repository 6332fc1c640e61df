"""GET /api/orders: the caller's orders (recorded by the Stripe webhook), newest first, paginated like posts."""

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.repositories.orders import OrderPage, OrdersRepository
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route
from apikit.validation import PageQuery

app = create_app()
orders = OrdersRepository()


@route(
    app,
    "GET",
    "/api/orders",
    summary="The caller's orders",
    security=BEARER_AUTH,
    query=PageQuery,
    response=OrderPage,
)
def list_orders(user: Principal, query: PageQuery) -> Response[str]:
    return json_response(orders.page(user.user_id, query.limit, query.cursor), headers={"Cache-Control": "no-store"})


lambda_handler = make_handler(app)

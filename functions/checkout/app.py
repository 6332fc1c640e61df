"""POST /api/checkout: a Stripe Checkout Session for one of the configured prices; 201 {id, url}.

The caller's user id goes to Stripe as client_reference_id, so the webhook can file the order under them. Stripe
answers that are errors become 502, and no answer in time 504, as problem+json.
"""

import hashlib
import os
import uuid
from functools import cache
from http import HTTPStatus
from typing import Annotated

import requests
import stripe
from aws_lambda_powertools.event_handler import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.errors import BadGateway, GatewayTimeout, ServiceUnavailable, UnprocessableContent
from apikit.logging import logger
from apikit.responses import json_response
from apikit.routes import BEARER_AUTH, route
from apikit.secrets import get_secret

app = create_app()
# One HTTP client (and its connection pool) for the life of the execution environment. Two attempts of at most
# 2 s to connect and STRIPE_TIMEOUT_SECONDS (4) to read, with stripe's backoff (at most 2 s) between them, stay
# inside the function's 15 s; the retry carries Stripe's idempotency key, so it cannot create a second session.
_READ_SECONDS = float(os.environ.get("STRIPE_TIMEOUT_SECONDS", "4"))
http_client = stripe.RequestsClient(timeout=(min(2.0, _READ_SECONDS), _READ_SECONDS))


def _allowed_price(price_id: str) -> str:
    allowed = {price.strip() for price in os.environ.get("STRIPE_PRICE_IDS", "").split(",") if price.strip()}
    if price_id not in allowed:
        raise ValueError("not a price this API sells")
    return price_id


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [{"price_id": "price_123", "quantity": 1}]}
    )
    price_id: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_allowed_price)]
    quantity: int = Field(default=1, ge=1, le=10)


class CheckoutSessionCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": "cs_test_a1b2c3", "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3"}]
        }
    )
    id: str
    url: str = Field(description="Send the customer's browser here.")


@cache
def stripe_client(api_key: str) -> stripe.StripeClient:
    # Keyed by the key, so a rotated key gets a new client; STRIPE_API_BASE points tests at a local fake Stripe.
    base = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com")
    return stripe.StripeClient(api_key, base_addresses={"api": base}, http_client=http_client, max_network_retries=1)


@route(
    app,
    "POST",
    "/api/checkout",
    summary="Start a Stripe Checkout for a price",
    security=BEARER_AUTH,
    body=CheckoutRequest,
    status=HTTPStatus.CREATED,
    response=CheckoutSessionCreated,
    request_headers={"Idempotency-Key": "Repeat it when retrying: Stripe then returns the same session."},
    errors=(HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.GATEWAY_TIMEOUT),
    tag="stripe",
)
def create_checkout(user: Principal, body: CheckoutRequest) -> Response[str]:
    client = stripe_client(get_secret("STRIPE_API_KEY_ARN"))
    # Scoped to the caller, so one user's key can never return another user's session. Hashed, not cut short:
    # a client's key of any length or alphabet becomes a distinct key within Stripe's 255 characters.
    requested = app.current_event.headers.get("idempotency-key")
    scoped = f"{user.user_id}\n{requested}" if requested else uuid.uuid4().hex
    key = "checkout-" + hashlib.sha256(scoped.encode()).hexdigest()  # 73 characters, whatever the user id
    try:
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [{"price": body.price_id, "quantity": body.quantity}],
                "client_reference_id": user.user_id,
                "success_url": os.environ["CHECKOUT_SUCCESS_URL"],
                "cancel_url": os.environ["CHECKOUT_CANCEL_URL"],
            },
            options={"idempotency_key": key},
        )
    except stripe.APIConnectionError as error:
        logger.warning("stripe unreachable", extra={"error": type(error.__cause__).__name__})
        if isinstance(error.__cause__, requests.Timeout):
            raise GatewayTimeout("Stripe did not answer in time; retry with the same Idempotency-Key.") from error
        raise BadGateway("Stripe could not be reached.") from error
    except stripe.RateLimitError as error:
        # Too many requests to Stripe from our account: the caller may retry shortly, with the same key.
        logger.warning("stripe rate limited us", extra={"status": error.http_status})
        raise ServiceUnavailable(
            "Stripe is busy; retry shortly with the same Idempotency-Key.", headers={"Retry-After": "5"}
        ) from error
    except stripe.StripeError as error:
        if isinstance(error, stripe.IdempotencyError) and error.http_status == HTTPStatus.BAD_REQUEST:
            # The key was first used for another checkout (another price or quantity): the caller's mistake, which
            # a retry cannot fix, so not a 502. 422, as the IETF Idempotency-Key draft answers a reused key.
            reused = {
                "loc": ["header", "Idempotency-Key"],
                "msg": "already used for a different request",
                "type": "idempotency",
            }
            raise UnprocessableContent(
                [reused], "This Idempotency-Key was already used for a different checkout: use a new one."
            ) from error
        # Stripe's message can name our account's settings: it goes to the logs, not to the client.
        logger.warning("stripe refused", extra={"status": error.http_status, "code": error.code})
        raise BadGateway("Stripe refused to create the checkout session.") from error
    return json_response(CheckoutSessionCreated(id=session.id, url=session.url or ""), HTTPStatus.CREATED)


lambda_handler = make_handler(app)

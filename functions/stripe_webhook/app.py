"""POST /api/webhooks/stripe: Stripe's signed event deliveries; each event is processed once.

The signature is checked over the raw body, exactly as sent, before anything in it is read. Processing is
idempotent on the event id (Powertools Idempotency on StripeEventsTable): a retried or duplicate delivery answers
200 without processing again, one racing an unfinished delivery answers 409 so that Stripe retries it, and a
failure answers 500 so that Stripe retries. The body is never logged.
"""

from functools import cache
from http import HTTPStatus
from typing import Any

import stripe
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import BaseModel, Field, ValidationError

from apikit.app import create_app, make_handler
from apikit.config import get_settings
from apikit.errors import BadRequest, Conflict
from apikit.logging import logger
from apikit.repositories import dynamodb
from apikit.repositories.orders import CheckoutSession, OrdersRepository
from apikit.responses import json_response
from apikit.routes import STRIPE_SIGNATURE_AUTH, route
from apikit.secrets import get_secret
from apikit.validation import raw_body

TOLERANCE_SECONDS = 300  # Stripe's default: a delivery signed longer ago than this is refused as a replay
app = create_app()
orders = OrdersRepository()
# Events are kept a week: Stripe retries a failed delivery for up to three days.
idempotency = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=7 * 24 * 3600)


class StripeEvent(BaseModel):
    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255)
    data: dict[str, Any]


class Received(BaseModel):
    received: bool = True


class PaymentError(BaseModel):
    code: str | None = None


class PaymentIntent(BaseModel):
    """The fields of a Stripe `payment_intent` object that a failed payment's log line keeps."""

    id: str
    last_payment_error: PaymentError | None = None


def verified_event(body: bytes, signature: str | None) -> StripeEvent:
    secret = get_secret("STRIPE_WEBHOOK_SECRET_ARN")
    try:
        # What stripe.Webhook.construct_event checks, without building a stripe.Event: that crashes with an
        # AttributeError on a signed body that is JSON but not an object. Nothing is parsed before this.
        stripe.WebhookSignature.verify_header(body, signature, secret, TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, ValueError) as error:  # ValueError: a body that is not UTF-8
        raise BadRequest("The Stripe-Signature header is missing, stale or does not match the body.") from error
    try:
        return StripeEvent.model_validate_json(body)
    except ValidationError as error:
        raise BadRequest("The body is not a Stripe event.") from error


def process(event: dict[str, Any]) -> dict[str, Any]:
    """Apply one event; runs at most once per event id (see `process_once`)."""
    kind, data = event["type"], event["data"].get("object")
    try:
        handled = _apply(kind, data)
    except ValidationError as error:
        raise BadRequest(f"The {kind} event's object is not what Stripe sends.") from error
    # One line per event actually processed: a duplicate delivery answered from the idempotency record has none.
    logger.info("stripe event processed", extra={"event_id": event["id"], "event_type": kind, "handled": handled})
    return {"handled": handled}


def _apply(kind: str, data: Any) -> bool:
    # Every object is validated before use: a signed body is Stripe's, but its shape is still checked (400, not 500).
    if kind == "checkout.session.completed":
        orders.record(CheckoutSession.model_validate(data))
    elif kind == "checkout.session.async_payment_succeeded":
        orders.record(CheckoutSession.model_validate(data), final_status="paid")
    elif kind == "checkout.session.async_payment_failed":
        orders.record(CheckoutSession.model_validate(data), final_status="failed")
    elif kind == "payment_intent.payment_failed":
        intent = PaymentIntent.model_validate(data)
        code = intent.last_payment_error.code if intent.last_payment_error else None
        logger.warning("payment failed", extra={"payment_intent": intent.id, "code": code})
    else:
        logger.info("unhandled stripe event type", extra={"event_type": kind})
        return False
    return True


@cache
def process_once() -> Any:
    # Built on first use: the persistence layer creates its boto3 client at once, and a module must import
    # without AWS settings. It shares the one DynamoDB client of the repositories.
    store = DynamoDBPersistenceLayer(table_name=get_settings().stripe_events_table, boto3_client=dynamodb())
    return idempotent_function(data_keyword_argument="event", persistence_store=store, config=idempotency)(process)


@route(
    app,
    "POST",
    "/api/webhooks/stripe",
    summary="Receive a Stripe event (signed)",
    security=STRIPE_SIGNATURE_AUTH,
    response=Received,
    errors=(HTTPStatus.BAD_REQUEST, HTTPStatus.CONFLICT),
    tag="stripe",
)
def receive_stripe_event() -> Any:
    current = app.current_event
    event = verified_event(raw_body(current), current.headers.get("stripe-signature"))
    try:
        process_once()(event=event.model_dump())
    except IdempotencyAlreadyInProgressError as error:
        # Another delivery of this event is being processed right now: Stripe retries a 409 later.
        raise Conflict("This event is being processed by another delivery; retry later.") from error
    return json_response(Received())


lambda_handler = make_handler(app, on_context=[idempotency.register_lambda_context])

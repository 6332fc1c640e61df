"""POST /api/webhooks/stripe: only deliveries signed with the endpoint's secret count, and each event counts once.

Every delivery here is signed with Stripe's own code (`stripe.WebhookSignature.generate_signature_header`) over
the exact bytes sent, as Stripe signs them, with the secret the `aws` fixture keeps in Secrets Manager.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import stripe
from botocore.exceptions import ClientError

from tests.conftest import ROOT, STRIPE_WEBHOOK_SECRET, Result, assert_problem, bearer, invoke, load_event

SAMPLES = ROOT / "events" / "stripe_webhook"
PATH = "/api/webhooks/stripe"
SESSION = "cs_test_a1sample00000000000000000000000000000000000001"  # the session the checkout samples name
USER = "user-123"  # its client_reference_id

# Sample -> the status the HTTP contract documents: every well-signed event is acknowledged, known or not.
EXPECTED = {
    "checkout.session.async_payment_failed.json": 200,
    "checkout.session.async_payment_succeeded.json": 200,
    "checkout.session.completed.json": 200,
    "customer.created.json": 200,
    "payment_intent.payment_failed.json": 200,
}


# --- helpers ----------------------------------------------------------------------------------------------


def sample(kind: str = "checkout.session.completed") -> dict[str, Any]:
    """The Stripe event (the body) of a sample delivery."""
    event: dict[str, Any] = json.loads(json.loads((SAMPLES / f"{kind}.json").read_text())["body"])
    return event


def sign(body: bytes, secret: str = STRIPE_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The Stripe-Signature header Stripe would send for these bytes."""
    return stripe.WebhookSignature.generate_signature_header(body.decode(), secret, timestamp)


def delivery(
    body: dict[str, Any] | list[Any] | str | bytes,
    signature: str | None = None,
    *,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An API Gateway event delivering `body`, signed with the endpoint's secret unless `signature` is given."""
    if isinstance(body, dict | list):
        body = json.dumps(body, separators=(",", ":"))
    raw = body.encode() if isinstance(body, str) else body
    header = sign(raw) if signature is None else signature
    text = base64.b64encode(raw).decode() if base64_encoded else raw.decode()
    return load_event(
        "stripe_webhook/checkout.session.completed.json",
        headers={"stripe-signature": header or None, "content-length": str(len(raw))},
        body=text,
        isBase64Encoded=base64_encoded,
    )


def deliver(body: dict[str, Any] | list[Any] | str | bytes, signature: str | None = None, **options: Any) -> Result:
    return invoke("stripe_webhook", delivery(body, signature, **options))


def event_for(kind: str, event_id: str, **session: Any) -> dict[str, Any]:
    """A sample event of `kind` under a new event id, its object changed by `session`."""
    event = sample(kind)
    event["id"] = event_id
    event["data"]["object"].update(session)
    return event


def order(session_id: str = SESSION) -> dict[str, Any] | None:
    item = boto3.client("dynamodb").get_item(TableName="OrdersTable", Key={"id": {"S": session_id}}).get("Item")
    if item is None:
        return None
    return {name: None if "NULL" in value else next(iter(value.values())) for name, value in item.items()}


def table_items(table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return items


def orders_of(user: str) -> list[dict[str, Any]]:
    """GET /api/orders as `user`."""
    event = load_event(
        "stripe_webhook/checkout.session.completed.json",
        headers={"authorization": bearer(user), "stripe-signature": None, "content-type": None},
        method="GET",
        path="/api/orders",
        body=None,
        routeKey="GET /api/orders",
    )
    result = invoke("orders_list", event)
    assert result.status == 200, result.body
    items: list[dict[str, Any]] = result.json()["items"]
    return items


def assert_received(result: Result) -> None:
    assert result.status == 200, result.body
    assert result.json() == {"received": True}


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the function logs, as Lambda would ship it (the Powertools handler holds the stdout of import time)."""
    from apikit.logging import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    return stream


def log_records(logs: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.getvalue().splitlines()]


def processed(logs: io.StringIO) -> list[dict[str, Any]]:
    return [record for record in log_records(logs) if record["message"] == "stripe event processed"]


# --- a valid delivery -------------------------------------------------------------------------------------


def test_a_signed_checkout_completed_records_the_order_for_its_user(aws):
    result = deliver(sample())

    assert_received(result)
    assert order() == {
        "id": SESSION,
        "user_id": USER,
        "customer_email": "ada@example.com",  # from customer_details: customer_email is null in the sample
        "amount_total": "2000",
        "currency": "eur",
        "payment_status": "paid",
        "created_at": datetime.fromtimestamp(1796035800, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert orders_of(USER) == [
        {
            "id": SESSION,
            "customer_email": "ada@example.com",
            "amount_total": 2000,
            "currency": "eur",
            "payment_status": "paid",
            "created_at": datetime.fromtimestamp(1796035800, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    ]
    assert orders_of("someone-else") == []


def test_an_order_whose_session_has_no_email_amount_or_currency_lists_them_as_null(aws):
    session = {"customer_email": None, "customer_details": None, "amount_total": None, "currency": None}

    assert_received(deliver(event_for("checkout.session.completed", "evt_no_details", **session)))

    (stored,) = table_items("OrdersTable")
    null = {"NULL": True}  # DynamoDB's null: refused with any other value
    assert (stored["customer_email"], stored["amount_total"], stored["currency"]) == (null, null, null)
    (listed,) = orders_of(USER)
    assert (listed["customer_email"], listed["amount_total"], listed["currency"]) == (None, None, None)
    assert (listed["id"], listed["payment_status"]) == (SESSION, "paid")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_event_signs_and_gives_its_documented_status(aws, name):
    event = json.loads((SAMPLES / name).read_text())
    assert event["headers"]["stripe-signature"] == "REPLACE_WITH_SIGNATURE"  # no real signature is committed
    event["headers"]["stripe-signature"] = sign(event["body"].encode())

    result = invoke("stripe_webhook", event)

    assert result.status == EXPECTED[name], result.body
    assert result.json() == {"received": True}


def test_every_sample_has_an_expected_status():
    assert {path.name for path in SAMPLES.glob("*.json")} == set(EXPECTED)


# --- signatures -------------------------------------------------------------------------------------------


def _tampered() -> dict[str, Any]:
    body = json.dumps(sample(), separators=(",", ":")).encode()
    return delivery(body.replace(b'"amount_total":2000', b'"amount_total":1'), sign(body))


def _signed_by(secret: str) -> dict[str, Any]:
    body = json.dumps(sample()).encode()
    return delivery(body, sign(body, secret))


def _signed_at(seconds_ago: int) -> dict[str, Any]:
    body = json.dumps(sample()).encode()
    return delivery(body, sign(body, timestamp=int(time.time()) - seconds_ago))


def _with_header(header: str) -> dict[str, Any]:
    return delivery(sample(), header)


def _signature_of_body(body: bytes) -> str:
    return sign(body).split(",v1=")[1]


REFUSED = {
    "tampered body": _tampered,
    "wrong secret": lambda: _signed_by("whsec_someone_elses_" + "x" * 24),
    "stale timestamp (301 s old)": lambda: _signed_at(301),
    "missing header": lambda: _with_header(""),
    "header garbage": lambda: _with_header("garbage"),
    "no timestamp": lambda: _with_header("v1=" + _signature_of_body(json.dumps(sample()).encode())),
    "timestamp not a number": lambda: _with_header("t=now,v1=abc"),
    "a v0 signature only": lambda: _with_header(sign(json.dumps(sample()).encode()).replace("v1=", "v0=")),
    "a key without a value": lambda: _with_header("t,v1"),
}


@pytest.mark.parametrize("make_event", REFUSED.values(), ids=REFUSED.keys())
def test_a_delivery_without_a_valid_recent_signature_is_400_and_changes_nothing(aws, make_event):
    result = invoke("stripe_webhook", make_event())

    body = assert_problem(result, 400, PATH)
    assert "Stripe-Signature" in body["detail"]
    assert order() is None
    assert table_items("StripeEventsTable") == []


def test_a_signature_within_the_tolerance_is_accepted(aws):
    assert_received(invoke("stripe_webhook", _signed_at(280)))
    assert order() is not None


def test_during_secret_rotation_one_matching_v1_signature_of_several_is_enough(aws):
    body = json.dumps(sample(), separators=(",", ":")).encode()
    timestamp = int(time.time())
    old = sign(body, "whsec_the_previous_secret_" + "o" * 20, timestamp)
    new = sign(body, STRIPE_WEBHOOK_SECRET, timestamp)
    # As Stripe sends it while two secrets are live: one timestamp, one v1 per secret (either order).
    for header in (f"{old},v1={new.split(',v1=')[1]}", f"{new},v1={old.split(',v1=')[1]}"):
        assert_received(deliver(body, header))
    assert order() is not None

    wrong_only = f"{old},v1={'0' * 64}"
    assert_problem(deliver(body, wrong_only), 400)


def test_a_base64_encoded_body_is_checked_and_read_as_its_bytes(aws):
    body = json.dumps(sample(), separators=(",", ":")).encode()

    # API Gateway base64-encodes some bodies: the signature is over the bytes, not over their base64 text.
    signed_over_the_base64_text = sign(base64.b64encode(body))
    assert_problem(deliver(body, signed_over_the_base64_text, base64_encoded=True), 400)
    assert order() is None

    assert_received(deliver(body, base64_encoded=True))
    assert order() is not None


def test_a_signed_body_that_is_not_utf8_is_400(aws):
    body = json.dumps(sample()).encode().replace(b"Ada", b"\xc0da")  # not UTF-8: API Gateway sends it as base64
    timestamp = int(time.time())
    # Stripe's scheme (HMAC-SHA256 of "<t>.<body>") over the raw bytes: Stripe's helper only signs text.
    digest = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()

    result = deliver(body, f"t={timestamp},v1={digest}", base64_encoded=True)

    assert_problem(result, 400, PATH)
    assert order() is None


NOT_EVENTS = {
    "a list": [1],
    "an empty object": {},
    "a string": "event",
    "null": None,
    "no type": {"id": "evt_1", "data": {"object": {}}},
    "no data": {"id": "evt_1", "type": "checkout.session.completed"},
    "an empty id": {"id": "", "type": "checkout.session.completed", "data": {"object": {}}},
    "data not an object": {"id": "evt_1", "type": "customer.created", "data": [1]},
    "a session that is a list": {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": []}},
    "a session without an id": {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": {"x": 1}}},
    "a session with a text amount": event_for("checkout.session.completed", "evt_1", amount_total="lots"),
    "an unknown payment status": event_for("checkout.session.completed", "evt_1", payment_status="maybe"),
    "a session created after the year 9999": event_for("checkout.session.completed", "evt_1", created=10**12),
    "an email that is a number": event_for("checkout.session.completed", "evt_1", customer_details={"email": 42}),
    "customer details that are text": event_for("checkout.session.completed", "evt_1", customer_details="ada"),
    "a session with a text currency list": event_for("checkout.session.completed", "evt_1", currency=["eur"]),
    "a payment intent that is a list": {"id": "evt_1", "type": "payment_intent.payment_failed", "data": {"object": []}},
    "a payment intent that is null": {"id": "evt_1", "type": "payment_intent.payment_failed", "data": {"object": None}},
    "a payment error that is text": event_for("payment_intent.payment_failed", "evt_1", last_payment_error="declined"),
}


@pytest.mark.parametrize("document", NOT_EVENTS.values(), ids=NOT_EVENTS.keys())
def test_a_signed_json_document_that_is_not_a_stripe_event_is_400_never_500(aws, document):
    result = deliver(json.dumps(document))

    assert_problem(result, 400, PATH)
    assert order() is None


def test_a_signed_body_that_is_not_json_is_400(aws):
    assert_problem(deliver("this is not JSON"), 400, PATH)


def test_an_event_refused_as_malformed_can_be_delivered_again_once_correct(aws):
    broken = event_for("checkout.session.completed", "evt_fixed_later", amount_total="lots")
    assert_problem(deliver(broken), 400)

    assert_received(deliver(event_for("checkout.session.completed", "evt_fixed_later")))
    assert order()["amount_total"] == "2000"


# --- each event once ---------------------------------------------------------------------------------------


def test_a_duplicate_delivery_is_acknowledged_and_processed_once(aws, logs):
    event = sample()
    assert_received(deliver(event))
    assert_received(deliver(event))  # Stripe delivers again when it missed our answer

    assert len(processed(logs)) == 1
    records = table_items("StripeEventsTable")
    assert len(records) == 1
    assert records[0]["status"]["S"] == "COMPLETED"
    assert len(table_items("OrdersTable")) == 1

    # The same event id re-signed with another amount is still that event: not processed again.
    event["data"]["object"]["amount_total"] = 999
    assert_received(deliver(event))
    assert order()["amount_total"] == "2000"
    assert len(processed(logs)) == 1


def test_a_second_completed_event_for_the_same_session_changes_nothing(aws):
    assert_received(deliver(sample()))
    again = event_for("checkout.session.completed", "evt_second_completed", amount_total=999, currency="usd")

    assert_received(deliver(again))

    assert (order()["amount_total"], order()["currency"]) == ("2000", "eur")
    assert len(table_items("OrdersTable")) == 1


def test_a_replayed_old_event_does_not_undo_a_later_one(aws, logs):
    failed = sample("checkout.session.async_payment_failed")
    assert_received(deliver(failed))
    assert_received(deliver(sample("checkout.session.async_payment_succeeded")))
    assert order()["payment_status"] == "paid"

    assert_received(deliver(failed))  # a late duplicate of the first: were it processed again, "failed"

    assert order()["payment_status"] == "paid"
    assert len(processed(logs)) == 2


def test_a_delivery_racing_an_unfinished_one_is_409_so_that_stripe_retries_it(aws, monkeypatch):
    from apikit.repositories.orders import OrdersRepository

    event = sample()
    racing: list[Result] = []
    record = OrdersRepository.record

    def record_while_another_arrives(self: OrdersRepository, *args: Any, **kwargs: Any) -> None:
        if not racing:
            racing.append(deliver(event))  # the same event, delivered while this one is still processing
        record(self, *args, **kwargs)

    monkeypatch.setattr(OrdersRepository, "record", record_while_another_arrives)

    first = deliver(event)

    assert_received(first)
    assert_problem(racing[0], 409, PATH)
    assert order() is not None
    assert_received(deliver(event))  # Stripe's retry, later: already processed


def test_a_throttle_while_processing_is_503_and_stripes_retry_processes_the_event(aws, monkeypatch, logs):
    import apikit.repositories.orders as orders_module

    real = orders_module.dynamodb()
    failures = []

    class FailsOnce:
        """DynamoDB throttling the order's write once, then answering again."""

        def update_item(self, **kwargs: Any) -> Any:
            if not failures:
                failures.append(kwargs["TableName"])
                error = {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"}
                raise ClientError({"Error": error}, "UpdateItem")
            return real.update_item(**kwargs)

    monkeypatch.setattr(orders_module, "dynamodb", FailsOnce)
    event = sample()

    failed = deliver(event)

    # Not an error of ours (apikit.aws): "not now", which Stripe retries as it retries any answer but a 2xx.
    assert_problem(failed, 503, PATH)
    assert failed.headers["retry-after"] == "1"
    assert "Rate exceeded" not in failed.body
    assert failures == ["OrdersTable"]
    assert order() is None
    assert table_items("StripeEventsTable") == []  # the claim on the event is released for the retry

    assert_received(deliver(event))

    assert order()["payment_status"] == "paid"
    assert len(processed(logs)) == 1


# --- event types ------------------------------------------------------------------------------------------


def test_an_unknown_event_type_is_acknowledged_and_logged_without_its_body(aws, logs):
    event = sample("customer.created")

    assert_received(deliver(event))

    unhandled = [record for record in log_records(logs) if record["message"] == "unhandled stripe event type"]
    assert len(unhandled) == 1
    assert unhandled[0]["event_type"] == "customer.created"
    assert table_items("OrdersTable") == []


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_log_line_carries_the_body_or_the_signature(aws, logs, name):
    event = json.loads((SAMPLES / name).read_text())
    signature = sign(event["body"].encode())
    event["headers"]["stripe-signature"] = signature

    assert_received(invoke("stripe_webhook", event))

    output = logs.getvalue()
    assert output  # there are log lines: the request line at least
    payload = json.loads(event["body"])
    for secret_part in ("ada@example.com", "Your card was declined.", signature, STRIPE_WEBHOOK_SECRET):
        assert secret_part not in output
    assert json.dumps(payload["data"]["object"]) not in output


def completed(payment_status: str, event_id: str = "evt_completed_async") -> dict[str, Any]:
    # A delayed payment method (SEPA, ...): the session completes unpaid, the payment settles later.
    return event_for("checkout.session.completed", event_id, payment_status=payment_status)


@pytest.mark.parametrize(
    ("order_of_events", "final"),
    [
        (["completed", "succeeded"], "paid"),
        (["succeeded", "completed"], "paid"),
        (["completed", "failed"], "failed"),
        (["failed", "completed"], "failed"),
    ],
    ids=["succeeded after completed", "succeeded before completed", "failed after", "failed before"],
)
def test_the_async_payment_outcome_wins_whatever_order_the_events_arrive_in(aws, order_of_events, final):
    events = {
        "completed": completed("unpaid"),
        "succeeded": sample("checkout.session.async_payment_succeeded"),
        "failed": sample("checkout.session.async_payment_failed"),
    }
    for name in order_of_events:
        assert_received(deliver(events[name]))

    stored = order()
    assert stored["payment_status"] == final
    assert (stored["amount_total"], stored["user_id"]) == ("2000", USER)
    assert [item["payment_status"] for item in orders_of(USER)] == [final]


def test_a_session_completed_unpaid_stays_unpaid_until_its_payment_settles(aws):
    assert_received(deliver(completed("unpaid")))
    assert order()["payment_status"] == "unpaid"


def test_a_failed_payment_intent_is_acknowledged_and_logged_with_its_code(aws, logs):
    assert_received(deliver(sample("payment_intent.payment_failed")))

    failed = [record for record in log_records(logs) if record["message"] == "payment failed"]
    assert len(failed) == 1
    assert (failed[0]["payment_intent"], failed[0]["code"]) == ("pi_3Q0sample0000000000000001", "card_declined")
    assert failed[0]["level"] == "WARNING"
    assert table_items("OrdersTable") == []

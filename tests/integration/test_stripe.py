"""Stripe through the real dev server over HTTP: signed webhook deliveries racing from separate processes, and
checkout against a fake Stripe API (tests/fakes/stripe_api.py) that is a real HTTP server too.

The dev server serves a copy of template.yaml in a project directory of the test's own, so that the test owns its
secrets (secrets.local.json there: the JWT key, Stripe's API key and webhook secret) and leaves the developer's
alone. env.json sets STRIPE_TIMEOUT_SECONDS (which the template declares: as with `sam local`, env.json may set
only declared variables), so that a slow Stripe is a 504 in about a second instead of eight.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import stripe

from devserver.template import load_app
from tests.conftest import SIGNING_KEY, TOKEN_KEYS
from tests.fakes.stripe_api import FakeStripe
from tests.integration.conftest import ROOT, DevServer, assert_problem

pytestmark = pytest.mark.devserver_only(reason="a dev server of its own with a fake Stripe, its log and its moto")

STRIPE_API_KEY = "sk_test_integration_" + "a" * 24
STRIPE_WEBHOOK_SECRET = "whsec_integration_" + "s" * 32
TIMEOUT_SECONDS = 0.5  # the checkout function's timeout per call to Stripe (STRIPE_TIMEOUT_SECONDS below)
SELLS = "price_basic,price_pro,price_retired"  # price_retired is configured here but no longer exists at Stripe
DELIVERIES = 6  # processes delivering the same event at once
SAMPLES = ROOT / "events" / "stripe_webhook"


def project_for_the_test(directory: Path) -> Path:
    """template.yaml, its code and layers, and secrets of the test's own."""
    directory.mkdir()
    (directory / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    for folder in ("functions", "layers"):
        (directory / folder).symlink_to(ROOT / folder, target_is_directory=True)
    ours = {"StripeApiKey": STRIPE_API_KEY, "StripeWebhookSecret": STRIPE_WEBHOOK_SECRET, **TOKEN_KEYS}
    secrets = {name: ours.get(name, uuid.uuid4().hex) for name in load_app(directory / "template.yaml").secrets}
    (directory / "secrets.local.json").write_text(json.dumps(secrets))
    return directory / "template.yaml"


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[FakeStripe]:
    with FakeStripe(STRIPE_API_KEY) as fake:
        yield fake


@pytest.fixture
def stripe_api(fake_stripe: FakeStripe) -> Iterator[FakeStripe]:
    fake_stripe.reset()
    yield fake_stripe
    fake_stripe.api_key = STRIPE_API_KEY


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, fake_stripe: FakeStripe) -> Iterator[DevServer]:
    directory = tmp_path_factory.mktemp("stripe")
    template = project_for_the_test(directory / "project")
    env_vars = directory / "env.json"
    checkout = {
        "STRIPE_API_BASE": fake_stripe.url,
        "STRIPE_PRICE_IDS": SELLS,
        "STRIPE_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    env_vars.write_text(json.dumps({"CheckoutFunction": checkout}))
    server = DevServer(
        template,
        directory / "devserver.log",
        "--env-vars",
        str(env_vars),
        "--concurrency",
        str(DELIVERIES),
        "--no-reload",
    )
    yield server
    server.stop()


def bearer(user: str) -> dict[str, str]:
    from apikit.auth import issue_access_token

    return {"Authorization": f"Bearer {issue_access_token(user, signing_key=SIGNING_KEY)}"}


def signed_event(kind: str = "checkout.session.completed", **session: Any) -> tuple[str, bytes]:
    """A new event of `kind` (the sample, under a new event id), its session changed by `session`: (id, body)."""
    event = json.loads(json.loads((SAMPLES / f"{kind}.json").read_text())["body"])
    event["id"] = f"evt_{uuid.uuid4().hex}"
    event["data"]["object"].update(session)
    return event["id"], json.dumps(event, separators=(",", ":")).encode()


def stripe_headers(body: bytes) -> dict[str, str]:
    signature = stripe.WebhookSignature.generate_signature_header(body.decode(), STRIPE_WEBHOOK_SECRET)
    return {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature}


def deliver(api: DevServer, body: bytes) -> requests.Response:
    return api.request("POST", "/api/webhooks/stripe", data=body, headers=stripe_headers(body))


def dynamodb(api: DevServer) -> Any:
    return boto3.client("dynamodb", endpoint_url=api.aws_endpoint, region_name="us-east-1")


# --- the webhook: one event delivered by several processes at once ----------------------------------------

# Each process opens its connection, says READY, waits for the word, sends its request and prints the answer.
DELIVERER = textwrap.dedent(
    """
    import http.client, json, sys
    port, body, signature = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    print("READY", flush=True)
    sys.stdin.readline()
    headers = {"Content-Type": "application/json", "Stripe-Signature": signature}
    connection.request("POST", "/api/webhooks/stripe", body=body, headers=headers)
    response = connection.getresponse()
    print(json.dumps({"status": response.status, "body": response.read().decode()}), flush=True)
    """
)


def deliver_at_once(api: DevServer, bodies: list[bytes]) -> list[dict[str, Any]]:
    """Each body from a process of its own, all released at once; their answers in order."""
    deliverers = []
    for body in bodies:
        command = [
            sys.executable,
            "-c",
            DELIVERER,
            str(api.port),
            body.decode(),
            stripe_headers(body)["Stripe-Signature"],
        ]
        deliverers.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    try:
        for deliverer in deliverers:
            assert deliverer.stdout is not None
            assert deliverer.stdout.readline().strip() == "READY"
        for deliverer in deliverers:  # as close together as two writes can be
            assert deliverer.stdin is not None
            deliverer.stdin.write("go\n")
            deliverer.stdin.flush()
        return [json.loads(deliverer.communicate(timeout=60)[0]) for deliverer in deliverers]
    finally:
        for deliverer in deliverers:
            if deliverer.poll() is None:
                deliverer.kill()
                deliverer.wait()


def processing_lines(api: DevServer, event_id: str) -> list[str]:
    return [line for line in api.output().splitlines() if "stripe event processed" in line and event_id in line]


def test_one_event_delivered_by_several_processes_at_once_is_processed_once(api):
    # Warm one execution environment per delivery first, so that the deliveries race each other, not cold starts.
    warm_up = [signed_event("customer.created")[1] for _ in range(DELIVERIES)]
    assert [answer["status"] for answer in deliver_at_once(api, warm_up)] == [200] * DELIVERIES

    session = f"cs_test_{uuid.uuid4().hex}"
    event_id, body = signed_event(client_reference_id="racer", id=session)

    answers = deliver_at_once(api, [body] * DELIVERIES)

    statuses = sorted(answer["status"] for answer in answers)
    assert set(statuses) <= {200, 409}, answers
    assert 200 in statuses
    for answer in answers:
        answered = json.loads(answer["body"])
        if answer["status"] == 200:
            assert answered == {"received": True}
        else:  # "being processed by another delivery": Stripe retries a 409 later
            assert (answered["status"], answered["instance"]) == (409, "/api/webhooks/stripe")
    assert len(processing_lines(api, event_id)) == 1, api.output()
    assert "ada@example.com" not in api.output()  # the sample's customer: bodies are never logged
    orders = dynamodb(api).scan(TableName="OrdersTable")["Items"]
    assert [item["id"]["S"] for item in orders if item.get("user_id", {}).get("S") == "racer"] == [session]

    replay = deliver(api, body)  # Stripe delivers it again later, say after a 409
    assert replay.status_code == 200
    assert replay.json() == {"received": True}
    assert len(processing_lines(api, event_id)) == 1


# --- checkout against Stripe (the fake), then the order ---------------------------------------------------


def checkout(api: DevServer, user: str | None, body: dict[str, Any], **headers: str) -> requests.Response:
    auth = bearer(user) if user else {}
    return api.request("POST", "/api/checkout", json=body, headers={**auth, **headers})


def test_checkout_creates_a_stripe_session_for_the_caller(api, stripe_api):
    created = checkout(api, "alice", {"price_id": "price_pro", "quantity": 2})

    assert created.status_code == 201, created.text
    session = created.json()
    assert set(session) == {"id", "url"}
    assert session["id"].startswith("cs_test_")
    assert session["url"] == f"https://checkout.stripe.com/c/pay/{session['id']}"
    [call] = stripe_api.requests
    assert (call.method, call.path) == ("POST", "/v1/checkout/sessions")
    assert call.headers["authorization"] == f"Bearer {STRIPE_API_KEY}"
    assert call.params["client_reference_id"] == "alice"
    assert call.params["line_items[0][price]"] == "price_pro"
    assert call.params["line_items[0][quantity]"] == "2"
    assert call.params["mode"] == "payment"
    assert call.idempotency_key
    assert stripe_api.sessions[session["id"]]["amount_total"] == 5000


def test_the_same_idempotency_key_gives_the_same_session_and_another_key_another(api, stripe_api):
    first = checkout(api, "alice", {"price_id": "price_basic"}, **{"Idempotency-Key": "cart-42"})
    again = checkout(api, "alice", {"price_id": "price_basic"}, **{"Idempotency-Key": "cart-42"})
    other = checkout(api, "alice", {"price_id": "price_basic"}, **{"Idempotency-Key": "cart-43"})
    bobs = checkout(api, "bob", {"price_id": "price_basic"}, **{"Idempotency-Key": "cart-42"})

    assert [response.status_code for response in (first, again, other, bobs)] == [201] * 4
    assert first.json() == again.json()
    assert other.json()["id"] != first.json()["id"]
    assert bobs.json()["id"] != first.json()["id"]  # one user's key never returns another user's session
    keys = [call.idempotency_key for call in stripe_api.requests]
    assert keys[0] == keys[1]
    assert len(set(keys)) == 3


def test_long_idempotency_keys_that_differ_only_at_the_end_are_different_checkouts(api, stripe_api):
    prefix = "checkout-form-" + "x" * 100
    first = checkout(api, "alice", {"price_id": "price_basic"}, **{"Idempotency-Key": prefix + "-1"})
    second = checkout(api, "alice", {"price_id": "price_pro"}, **{"Idempotency-Key": prefix + "-2"})

    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json()["id"] != second.json()["id"]


def test_checkout_refuses_what_it_does_not_sell_and_callers_without_a_token_before_calling_stripe(api, stripe_api):
    unsold = checkout(api, "alice", {"price_id": "price_enterprise"})
    body = assert_problem(unsold, 422)
    assert body["errors"][0]["loc"] == ["body", "price_id"]

    anonymous = checkout(api, None, {"price_id": "price_basic"})
    assert_problem(anonymous, 401)
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")

    assert stripe_api.requests == []


def revoke_our_key(fake: FakeStripe) -> None:
    fake.api_key = "sk_test_the_new_one"  # rolled in Stripe's dashboard, not yet in Secrets Manager


STRIPE_MESSAGES = ("No such price", "unknown error", "Stripe's servers", "Invalid API Key")
STRIPE_FAILURES = {
    "our API key refused (401)": (revoke_our_key, "price_basic", 1),
    "Stripe 400 (no such price)": (lambda fake: fake.fail(400), "price_basic", 1),
    "a price sold here that Stripe does not know": (lambda fake: None, "price_retired", 1),
    "Stripe 500 on the call and its retry": (lambda fake: fake.fail(500, times=2), "price_basic", 2),
    "Stripe 503 on the call and its retry": (lambda fake: fake.fail(503, times=2), "price_basic", 2),
}


@pytest.mark.parametrize(("program", "price", "calls"), STRIPE_FAILURES.values(), ids=STRIPE_FAILURES.keys())
def test_a_stripe_error_is_a_502_that_does_not_repeat_stripes_message(api, stripe_api, program, price, calls):
    program(stripe_api)

    refused = checkout(api, "alice", {"price_id": price})

    body = assert_problem(refused, 502)
    assert body["detail"] == "Stripe refused to create the checkout session."
    assert not any(message in refused.text for message in STRIPE_MESSAGES)
    assert not any(message in api.output() for message in STRIPE_MESSAGES)  # nor in the logs
    assert STRIPE_API_KEY not in api.output()
    received = stripe_api.requests
    assert len(received) == calls  # a 5xx is retried once, with the same idempotency key; a 400 is not
    assert len({call.idempotency_key for call in received}) == 1


def test_stripe_rate_limiting_us_is_a_503_with_retry_after(api, stripe_api):
    stripe_api.fail(429, times=2)  # stripe-python retries a 429 once, with the same idempotency key

    busy = checkout(api, "alice", {"price_id": "price_basic"})

    assert_problem(busy, 503)
    assert busy.headers["Retry-After"] == "5"
    assert len({call.idempotency_key for call in stripe_api.requests}) == 1


def test_a_stripe_5xx_once_is_retried_and_the_checkout_succeeds(api, stripe_api):
    stripe_api.fail(503)

    created = checkout(api, "alice", {"price_id": "price_basic"})

    assert created.status_code == 201, created.text
    first, retry = stripe_api.requests
    assert first.idempotency_key == retry.idempotency_key


def test_a_stripe_slower_than_the_timeout_is_a_504_soon(api, stripe_api):
    stripe_api.delay(4 * TIMEOUT_SECONDS, times=2)  # the call and its retry

    started = time.monotonic()
    slow = checkout(api, "alice", {"price_id": "price_basic"})
    elapsed = time.monotonic() - started

    body = assert_problem(slow, 504)
    assert "Idempotency-Key" in body["detail"]
    assert elapsed < 2 * TIMEOUT_SECONDS + 2  # two timeouts and Stripe's retry delay (0.5 s), not the slow answer
    first, retry = stripe_api.requests
    assert first.idempotency_key == retry.idempotency_key


def test_a_paid_checkout_shows_in_the_buyers_orders(api, stripe_api):
    created = checkout(api, "carol", {"price_id": "price_pro"})
    assert created.status_code == 201, created.text
    session = stripe_api.sessions[created.json()["id"]]
    assert api.get("/api/orders", headers=bearer("carol")).json() == {"items": [], "next_cursor": None}

    # What Stripe sends once carol has paid: the session, completed.
    paid = {**session, "payment_status": "paid", "status": "complete", "customer_details": {"email": "c@example.com"}}
    _, body = signed_event("checkout.session.completed", **paid)
    delivered = deliver(api, body)
    assert delivered.status_code == 200, delivered.text

    listed = api.get("/api/orders", headers=bearer("carol"))
    assert listed.status_code == 200
    assert listed.headers["Cache-Control"] == "no-store"
    assert listed.json() == {
        "items": [
            {
                "id": session["id"],
                "customer_email": "c@example.com",
                "amount_total": 2500,
                "currency": "eur",
                "payment_status": "paid",
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session["created"])),
            }
        ],
        "next_cursor": None,
    }
    assert api.get("/api/orders", headers=bearer("dave")).json()["items"] == []
    assert_problem(api.get("/api/orders"), 401)

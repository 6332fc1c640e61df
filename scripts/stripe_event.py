"""Sign a sample Stripe event with the local webhook secret and deliver it to the local API, as Stripe would.

    make stripe-event TYPE=checkout.session.completed                 # the sample as it is: run it twice for a replay
    make stripe-event TYPE=checkout.session.completed ARGS="--fresh --user alice"   # a new event and session for alice
    make stripe-event TYPE=checkout.session.completed ARGS="--print" > signed.json  # a signed event for `make invoke`

The samples are events/stripe_webhook/<TYPE>.json; the secret is StripeWebhookSecret in secrets.local.json (the dev
server writes it on its first start), or --secret. Signed with Stripe's own code, at the time of sending.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import requests
import stripe

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "events" / "stripe_webhook"


def load_sample(kind: str) -> dict[str, Any]:
    path = SAMPLES / f"{kind}.json"
    if not path.is_file():
        known = ", ".join(sorted(sample.stem for sample in SAMPLES.glob("*.json")))
        raise SystemExit(f"no sample for {kind!r}; choose one of: {known}")
    sample: dict[str, Any] = json.loads(path.read_text())
    return sample


def local_secret() -> str:
    local = ROOT / "secrets.local.json"
    value = json.loads(local.read_text()).get("StripeWebhookSecret") if local.is_file() else None
    if not value:
        raise SystemExit("no StripeWebhookSecret in secrets.local.json: start `make dev` once, or pass --secret")
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("type", help="the event type, e.g. checkout.session.completed")
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the local API (default: %(default)s)")
    parser.add_argument("--secret", help="the webhook signing secret (default: from secrets.local.json)")
    parser.add_argument("--fresh", action="store_true", help="a new event id (and session id): not a replay")
    parser.add_argument("--user", help="the user id the checkout session belongs to (client_reference_id)")
    parser.add_argument("--print", action="store_true", help="print the signed API Gateway event instead of sending")
    arguments = parser.parse_args()

    event = load_sample(arguments.type)
    payload = json.loads(event["body"])
    stripe_object = payload["data"]["object"]
    if arguments.fresh:
        payload["id"] = f"evt_local_{secrets.token_hex(12)}"
        payload["created"] = int(time.time())
        if stripe_object.get("object") == "checkout.session":
            stripe_object["id"] = f"cs_test_local_{secrets.token_hex(12)}"
            stripe_object["created"] = int(time.time())
    if arguments.user and stripe_object.get("object") == "checkout.session":
        stripe_object["client_reference_id"] = arguments.user
    body = json.dumps(payload, separators=(",", ":"))
    signature = stripe.WebhookSignature.generate_signature_header(body, arguments.secret or local_secret())

    if arguments.print:
        event["body"] = body
        event["headers"]["stripe-signature"] = signature
        event["headers"]["content-length"] = str(len(body.encode()))
        print(json.dumps(event, indent=2))
        return 0
    headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature}
    try:
        response = requests.post(
            f"{arguments.url}/api/webhooks/stripe", data=body.encode(), headers=headers, timeout=30
        )
    except requests.ConnectionError:
        raise SystemExit(f"nothing answers at {arguments.url}: start it with `make dev`") from None
    print(f"{payload['id']} ({arguments.type}) -> {response.status_code} {response.text}")
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())

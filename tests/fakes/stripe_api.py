"""A small fake of Stripe's API: a real HTTP server on 127.0.0.1 (ephemeral port) for POST /v1/checkout/sessions.

What it does as Stripe does (docs.stripe.com/api/authentication, /api/errors, /api/idempotent_requests,
/api/checkout/sessions/create):
- `Authorization: Bearer <secret key>`; any other key is a 401 with Stripe's error JSON.
- Form-encoded parameters with bracketed keys (`line_items[0][price]=price_basic`).
- `Idempotency-Key`: the same key with the same parameters replays the first answer (`Idempotent-Replayed: true`);
  with other parameters it is a 400 `idempotency_error`.
- An unknown price is a 400 `resource_missing` on `line_items[0][price]`; a missing parameter a 400
  `parameter_missing`.

Tests program what comes next (`fail(400)`, `fail(503, times=2)`, `delay(2.0, times=2)`) and read what it received
(`requests`). A delayed answer is answered after the delay, as a slow Stripe would, unless the fake stops first.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.loopback import LoopbackHandler, LoopbackServer

API_VERSION = "2025-10-29.clover"
DEFAULT_PRICES = {"price_basic": (1000, "eur"), "price_pro": (2500, "eur")}  # id -> (unit_amount, currency)
SESSIONS_PATH = "/v1/checkout/sessions"


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    params: dict[str, str]  # the form as sent: {"line_items[0][price]": "price_basic", ...}

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass(frozen=True)
class _Programmed:
    status: int | None = None  # answer with this error instead
    delay: float = 0.0  # answer this much later


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def stripe_error(status: int, kind: str, message: str, code: str | None = None, param: str | None = None) -> _Answer:
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return _Answer(status, {"error": error})


class FakeStripe(LoopbackServer):
    def __init__(self, api_key: str, prices: dict[str, tuple[int, str]] | None = None) -> None:
        super().__init__(_Handler)
        self.api_key = api_key
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)
        self._received: list[ReceivedRequest] = []
        self._programmed: deque[_Programmed] = deque()
        self._replays: dict[str, tuple[dict[str, str], _Answer]] = {}  # idempotency key -> (params, first answer)
        self.sessions: dict[str, dict[str, Any]] = {}

    # --- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.origin

    # --- what tests program and read ----------------------------------------------------------------------

    def fail(self, status: int, times: int = 1) -> None:
        """The next `times` requests get this error: 400 (the price does not exist), 401, 402, 429, 500, 503..."""
        with self._lock:
            self._programmed.extend(_Programmed(status=status) for _ in range(times))

    def delay(self, seconds: float, times: int = 1) -> None:
        """The next `times` requests are answered (normally) only after `seconds`."""
        with self._lock:
            self._programmed.extend(_Programmed(delay=seconds) for _ in range(times))

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def reset(self) -> None:
        """Forget what was received and programmed (sessions and idempotency keys stay, as on Stripe)."""
        with self._lock:
            self._received.clear()
            self._programmed.clear()

    # --- the API ------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Answer:
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        with self._lock:
            self._received.append(ReceivedRequest(method, path, headers, params))
            programmed = self._programmed.popleft() if self._programmed else _Programmed()
        if programmed.delay:
            self._stopping.wait(programmed.delay)
        if headers.get("authorization") != f"Bearer {self.api_key}":
            presented = headers.get("authorization", "").removeprefix("Bearer ")
            return stripe_error(
                HTTPStatus.UNAUTHORIZED,
                "invalid_request_error",
                f"Invalid API Key provided: {presented[:8]}****{presented[-4:]}",
            )
        if programmed.status is not None:
            return self._programmed_error(programmed.status, params)
        if (method, path) != ("POST", SESSIONS_PATH):
            return stripe_error(
                HTTPStatus.NOT_FOUND, "invalid_request_error", f"Unrecognized request URL ({method}: {path})."
            )
        key = headers.get("idempotency-key")
        with self._lock:  # one request per key at a time, as Stripe locks a key while it is in flight
            if key is not None and key in self._replays:
                first_params, answer = self._replays[key]
                if first_params != params:
                    return stripe_error(
                        HTTPStatus.BAD_REQUEST,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                    )
                return _Answer(answer.status, answer.body, {"Idempotent-Replayed": "true"})
            answer = self._create_session(params)
            if key is not None and answer.status < 500:
                self._replays[key] = (params, answer)
            return answer

    def _programmed_error(self, status: int, params: dict[str, str]) -> _Answer:
        if status == HTTPStatus.BAD_REQUEST:
            price = params.get("line_items[0][price]", "")
            return stripe_error(
                status, "invalid_request_error", f"No such price: '{price}'", "resource_missing", "line_items[0][price]"
            )
        if status == HTTPStatus.PAYMENT_REQUIRED:
            return stripe_error(status, "card_error", "Your card was declined.", "card_declined")
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            return stripe_error(status, "invalid_request_error", "Too many requests.", "rate_limit")
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            return stripe_error(status, "api_error", "An unknown error occurred on Stripe's servers.")
        return stripe_error(status, "invalid_request_error", HTTPStatus(status).phrase)

    def _create_session(self, params: dict[str, str]) -> _Answer:
        for required in ("mode", "success_url", "line_items[0][price]"):
            if not params.get(required):
                return stripe_error(
                    HTTPStatus.BAD_REQUEST,
                    "invalid_request_error",
                    f"Missing required param: {required}.",
                    "parameter_missing",
                    required,
                )
        price = params["line_items[0][price]"]
        if price not in self.prices:
            return stripe_error(
                HTTPStatus.BAD_REQUEST,
                "invalid_request_error",
                f"No such price: '{price}'",
                "resource_missing",
                "line_items[0][price]",
            )
        quantity = params.get("line_items[0][quantity]", "1")
        if not quantity.isdigit() or int(quantity) < 1:
            return stripe_error(
                HTTPStatus.BAD_REQUEST,
                "invalid_request_error",
                "Invalid integer: " + quantity,
                "parameter_invalid_integer",
                "line_items[0][quantity]",
            )
        unit_amount, currency = self.prices[price]
        session_id = "cs_test_" + secrets.token_urlsafe(42).replace("-", "a").replace("_", "b")
        now = int(time.time())
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": unit_amount * int(quantity),
            "amount_total": unit_amount * int(quantity),
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer_email": params.get("customer_email"),
            "expires_at": now + 24 * 3600,
            "livemode": False,
            "metadata": {},
            "mode": params["mode"],
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return _Answer(HTTPStatus.OK, session)


class _Handler(LoopbackHandler):
    def respond(self, body: bytes, headers: dict[str, str]) -> None:
        fake: FakeStripe = self.server.fake  # type: ignore[attr-defined]
        answer = fake.handle(self.command, self.path, headers, body)
        payload = json.dumps(answer.body).encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", "req_" + secrets.token_hex(7))
            self.send_header("Stripe-Version", headers.get("stripe-version", API_VERSION))
            if "idempotency-key" in headers:
                self.send_header("Idempotency-Key", headers["idempotency-key"])
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (its timeout): nothing to answer to

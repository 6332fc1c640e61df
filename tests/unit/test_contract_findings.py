"""What the contract run (tests/contract, schemathesis) found: places where docs/openapi.json and the API disagreed.

Each test pins both sides, so a client generated from the document gets the answer the document promises.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import jsonschema_rs
import pytest

from apikit.openapi import describe
from apikit.routes import BEARER_AUTH, REFRESH_COOKIE_AUTH, Route, route
from devserver.worker import LambdaContext
from tests.conftest import ROOT, STRIPE_API_KEY, Result, assert_problem, bearer, invoke, load_event, load_function


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi.json").read_text())


def test_logout_without_a_cookie_is_a_204_and_the_document_says_the_cookie_is_optional(aws, document):
    """schemathesis: `POST /api/auth/logout` without the cookie answered 204 where the document required it."""
    result = invoke("auth_logout", load_event("auth_logout/post.json", cookies=[]))

    assert result.status == 204
    assert document["paths"]["/api/auth/logout"]["post"]["security"] == [{"refreshCookie": []}, {}]
    # Refresh still needs the cookie: without one it is a 401.
    assert document["paths"]["/api/auth/refresh"]["post"]["security"] == [{"refreshCookie": []}]


def test_an_optional_scheme_is_documented_as_one_alternative_of_two():
    declared = Route(("POST",), "/api/x", "x", "x", security=REFRESH_COOKIE_AUTH, security_optional=True)

    operation = describe([declared])["paths"]["/api/x"]["post"]

    assert operation["security"] == [{"refreshCookie": []}, {}]


def _optional_bearer_answer(headers: dict[str, str]) -> Result:
    """GET /api/x declared with an optional bearer token (as /api/graphql is), answering who the caller is."""
    from apikit.app import create_app, make_handler
    from apikit.responses import json_response

    app = create_app()

    @route(app, "GET", "/api/x", summary="x", security=BEARER_AUTH, security_optional=True)
    def who(user: Any) -> Any:
        return json_response({"user": user.user_id if user else None})

    event = load_event("health/get.json", path="/api/x", headers=headers)
    event["routeKey"] = "GET /api/x"
    return Result.of(make_handler(app)(event, LambdaContext("test-function", 512, 10)))


def test_an_optional_bearer_lets_anyone_in_and_still_checks_a_token_that_is_sent(aws):
    assert _optional_bearer_answer({}).json() == {"user": None}
    assert _optional_bearer_answer({"authorization": bearer("alice")}).json() == {"user": "alice"}
    refused = _optional_bearer_answer({"authorization": "Bearer not-a-token"})
    assert_problem(refused, 401)
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    operation = describe([Route(("GET",), "/api/x", "x", "x", security=BEARER_AUTH, security_optional=True)])
    assert operation["paths"]["/api/x"]["get"]["security"] == [{"bearerAuth": []}, {}]


def _fits(document: dict[str, Any], model: str, instance: Any) -> bool:
    """Whether `instance` fits the model's schema for both regex dialects a client may bring: Python's `re` (the
    `jsonschema` package) and ECMA-262's, which JSON Schema specifies (`jsonschema_rs`, as schemathesis and
    JavaScript clients read patterns). The two validators must agree, or the document means two things."""
    schema = {"$ref": f"#/components/schemas/{model}", "components": document["components"]}
    python = jsonschema.Draft202012Validator(schema).is_valid(instance)
    ecma = jsonschema_rs.validator_for(schema).is_valid(instance)
    assert python == ecma, f"{instance!r}: Python says {python}, ECMA-262 says {ecma}"
    return python


REFUSED_EMAILS = [
    "0000",
    "ada@example",
    "ada@@example.com",
    "a da@example.com",
    "ada@example.com.",
    # schemathesis: a file separator (U+001C) is whitespace to Python's \s and not to ECMA-262's, so the document
    # allowed what the API refused. Control characters are no part of an address at all.
    "a\x1cda@example.com",
    "a\x00da@example.com",
    "ada@exa\x14mple.com",
    "ada@example.c\x9fom",
]
# As sent, and as stored: surrounding spaces (Unicode's too) go, and case does not count.
ACCEPTED_EMAILS = [
    ("ada@example.com", "ada@example.com"),
    (" Ada@Example.COM\t", "ada@example.com"),
    ("a+b@mail.example.co", "a+b@mail.example.co"),
    ("\ufeffada@example.com\u00a0", "ada@example.com"),
]


@pytest.mark.parametrize("email", REFUSED_EMAILS)
def test_an_email_the_api_refuses_is_one_the_document_refuses(aws, document, email):
    """schemathesis: signup refused `{"email": "000..."}` with a 422 although the document allowed any string."""
    body = {"email": email, "password": "correct horse battery staple", "name": "Ada"}

    assert invoke("auth_signup", load_event("auth_signup/post.json", body=body)).status == 422
    assert not _fits(document, "SignupRequest", body)
    assert not _fits(document, "LoginRequest", {"email": email, "password": "x"})


@pytest.mark.parametrize(("email", "stored"), ACCEPTED_EMAILS)
def test_an_email_the_document_accepts_is_one_the_api_accepts(aws, document, email, stored):
    body = {"email": email, "password": "correct horse battery staple", "name": "Ada"}

    assert _fits(document, "SignupRequest", body)
    assert _fits(document, "LoginRequest", {"email": email, "password": "x"})
    result = invoke("auth_signup", load_event("auth_signup/post.json", body=body))
    assert result.status == 201
    assert result.json()["user"]["email"] == stored


def test_every_documented_response_header_is_required_as_the_api_always_sends_it(document):
    """Optional headers let schemathesis' response_headers_conformance pass a response that lost its ETag or its
    X-Request-Id: the document says they are always there, so the contract run notices when one is not."""
    headers = [
        (method, path, status, name, header)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        for name, header in response.get("headers", {}).items()
    ]

    assert len(headers) > 50
    optional = [(m, p, s, n) for m, p, s, n, header in headers if header.get("required") is not True]
    # The one exception, said in its description: the rate-limit fields are missing when the counter table could
    # not be reached (the request is served anyway); a 429 always has them.
    assert optional
    assert {n for m, p, s, n in optional} == {
        "RateLimit-Limit",
        "RateLimit-Remaining",
        "RateLimit-Reset",
        "RateLimit-Policy",
    }
    assert "429" not in {s for m, p, s, n in optional}
    post = document["paths"]["/api/posts"]["post"]["responses"]
    assert {name for name, header in post["201"]["headers"].items()} == {
        "Location",
        "ETag",
        "X-Request-Id",
        *("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy"),
    }
    assert post["401"]["headers"]["WWW-Authenticate"]["required"] is True


def test_an_idempotency_key_reused_for_another_checkout_is_the_callers_422_not_stripes_502(aws, monkeypatch):
    """schemathesis (make fuzz): POST /api/checkout with an Idempotency-Key it had sent before with another quantity
    was a 502 "Stripe refused", which tells the client to retry; the same request again can only fail again."""
    from tests.fakes.stripe_api import FakeStripe

    checkout = load_function("checkout")

    def attempt(quantity: int) -> Result:
        headers = {"authorization": bearer("alice"), "idempotency-key": "cart-7", "content-type": "application/json"}
        body = {"price_id": "price_basic", "quantity": quantity}
        return invoke(
            "checkout", load_event("posts_create/post.json", path="/api/checkout", headers=headers, body=body)
        )

    with FakeStripe(STRIPE_API_KEY) as stripe:
        monkeypatch.setenv("STRIPE_API_BASE", stripe.url)
        checkout.stripe_client.cache_clear()
        try:
            first, same, changed = attempt(1), attempt(1), attempt(2)
        finally:
            checkout.stripe_client.cache_clear()

    assert (first.status, same.status) == (201, 201)
    assert same.json() == first.json()
    problem = assert_problem(changed, 422, instance="/api/checkout")
    assert "Idempotency-Key" in problem["detail"]
    assert problem["errors"] == [
        {"loc": ["header", "Idempotency-Key"], "msg": "already used for a different request", "type": "idempotency"}
    ]

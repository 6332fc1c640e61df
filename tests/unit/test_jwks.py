"""GET /api/auth/jwks.json and who holds which key: anyone can verify a token, only three functions can sign one."""

from __future__ import annotations

import json

import jwt

from devserver.template import load_template, resources_of_type
from tests.conftest import PUBLIC_KEYS, ROOT, bearer, invoke, load_event

SIGNERS = {"AuthSignupFunction", "AuthLoginFunction", "AuthRefreshFunction"}


def jwks_event() -> dict:
    event = load_event("health/get.json", path="/api/auth/jwks.json")
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /api/auth/jwks.json"
    return event


def test_the_key_set_verifies_the_tokens_the_api_issues(aws):
    result = invoke("auth_jwks", jwks_event())

    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.headers["cache-control"] == "public, max-age=300"
    assert result.json() == json.loads(PUBLIC_KEYS)
    token = bearer("alice").removeprefix("Bearer ")
    key = jwt.PyJWKSet.from_dict(result.json())[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(token, key.key, algorithms=["ES256"], audience="api-routes", issuer="api-routes")
    assert claims["sub"] == "alice"


def test_the_key_set_holds_no_private_part(aws):
    for key in invoke("auth_jwks", jwks_event()).json()["keys"]:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # no "d"


def test_only_the_functions_that_sign_may_read_the_private_key():
    template = load_template(ROOT / "template.yaml")
    readers = {
        name
        for name, function in resources_of_type(template, "AWS::Serverless::Function").items()
        if "JwtSigningKey" in json.dumps(function["Properties"].get("Policies", []))
    }
    verifiers = {
        name
        for name, function in resources_of_type(template, "AWS::Serverless::Function").items()
        if "JwtPublicKeys" in json.dumps(function["Properties"].get("Policies", []))
    }

    assert readers - {"JwtRotationFunction"} == SIGNERS
    assert SIGNERS.isdisjoint(verifiers)
    assert {"PostsCreateFunction", "AuthMeFunction", "AuthJwksFunction", "OrdersListFunction"} <= verifiers

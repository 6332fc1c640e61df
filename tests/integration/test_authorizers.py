"""HttpApi authorizers enforced by the dev server before the function runs, as API Gateway enforces them: a JWT
authorizer against a real OIDC issuer on 127.0.0.1 (tests.fakes.oidc_issuer), and Lambda REQUEST authorizers that
are a function of the template (tests/integration/auth_project). Each test cites the page it follows.

The functions print a line per call (`ECHO <query>`, `AUTHORIZER-EVENT <event>`), so that a test can tell from the
dev server's log whether one ran for a request of its own."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests

from tests.fakes.oidc_issuer import OidcIssuer
from tests.integration.conftest import DevServer

pytestmark = pytest.mark.devserver_only(reason="a dev server of its own on a template with authorizers")

PROJECT = Path(__file__).resolve().parent / "auth_project"
UNAUTHORIZED = {"message": "Unauthorized"}
FORBIDDEN = {"message": "Forbidden"}
INTERNAL_ERROR = {"message": "Internal Server Error"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with OidcIssuer() as running:
        yield running


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, issuer: OidcIssuer) -> Iterator[DevServer]:
    target = tmp_path_factory.mktemp("authorizers") / "project"
    shutil.copytree(PROJECT, target)
    server = DevServer(
        target / "template.yaml", target.parent / "devserver.log", "--parameter-overrides", f"Issuer={issuer.url}"
    )
    yield server
    server.stop()


def marker() -> str:
    """A query value no other request sends: whether the function ran for this request is in the log."""
    return "m" + uuid.uuid4().hex[:12]


def echo_ran(server: DevServer, mark: str) -> bool:
    return f"ECHO mark={mark}" in server.output() or f'"mark": ["{mark}"]' in server.output()


def authorizer_events(server: DevServer, mark: str) -> list[dict]:
    """The events the authorizer function received for requests carrying this marker."""
    found = re.findall(r"^AUTHORIZER-EVENT (.*)$", server.output(), flags=re.MULTILINE)
    return [event for event in map(json.loads, found) if mark in json.dumps(event)]


def get(server: DevServer, path: str, mark: str, **headers: str) -> requests.Response:
    return server.get(path, params={"mark": mark}, headers=headers)


# --- JWT authorizers: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html ---


def test_a_request_without_a_token_is_401_and_the_function_never_runs(server):
    mark = marker()

    response = get(server, "/orders", mark)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == "Bearer"
    assert "apigw-requestid" in response.headers
    assert not echo_ran(server, mark)


def test_a_valid_token_reaches_the_function_with_its_claims_as_strings(server, issuer):
    """`requestContext.authorizer.jwt.claims`, every value a string; `scopes` null on a route without scopes."""
    mark = marker()
    token = issuer.token(aud=["orders-api", "web"], groups=["admins", "readers"], level=3, verified=True)

    response = get(server, "/orders", mark, Authorization=f"Bearer {token}")

    assert response.status_code == 200, server.output()
    jwt_context = response.json()["requestContext"]["authorizer"]["jwt"]
    claims = jwt_context["claims"]
    assert claims["iss"] == issuer.url
    assert claims["sub"] == "user-1"
    assert claims["aud"] == "[orders-api web]"
    assert claims["groups"] == "[admins readers]"
    assert (claims["level"], claims["verified"]) == ("3", "true")
    assert re.fullmatch(r"\d{10}", claims["exp"])
    assert jwt_context["scopes"] is None
    assert echo_ran(server, mark)


def test_the_bearer_prefix_is_optional(server, issuer):
    """ "The identitySource can include only the token, or the token prefixed with Bearer." """
    response = server.get("/orders", headers={"Authorization": issuer.token()})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        # The one description AWS publishes: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html
        ({"aud": "someone-else"}, "the token does not have a valid audience"),
        # "API Gateway validates client_id only if aud is not present."
        ({"aud": "someone-else", "client_id": "orders-api"}, "the token does not have a valid audience"),
        ({"exp": int(time.time()) - 5}, "the token has expired"),
        ({"nbf": int(time.time()) + 600}, "the token is not valid yet"),
        ({"iss": "https://impostor.example"}, "the token does not have a valid issuer"),
    ],
)
def test_an_invalid_token_is_401_with_aws_www_authenticate(server, issuer, claims, description):
    mark = marker()

    response = get(server, "/orders", mark, Authorization=f"Bearer {issuer.token(**claims)}")

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == (
        f'Bearer scope="" error="invalid_token" error_description="{description}"'
    )
    assert not echo_ran(server, mark)


def test_client_id_stands_for_a_missing_aud(server, issuer):
    response = server.get("/orders", headers={"Authorization": issuer.token(aud=None, client_id="reports-api")})

    assert response.status_code == 200


def test_a_forged_signature_or_a_non_rsa_token_is_refused(server, issuer):
    forged = server.get("/orders", headers={"Authorization": issuer.stranger()})
    hmac = server.get("/orders", headers={"Authorization": "Bearer " + hs256_token(issuer.url)})

    assert (forged.status_code, forged.json()) == (401, UNAUTHORIZED)
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]
    assert (hmac.status_code, hmac.json()) == (401, UNAUTHORIZED)


def hs256_token(issuer: str) -> str:
    return jwt.encode({"iss": issuer, "aud": "orders-api"}, "k" * 32, algorithm="HS256", headers={"kid": "key-1"})


def test_a_key_the_issuer_rotates_in_is_fetched_when_a_token_names_it(server, issuer):
    """The keys come from the issuer's jwks_uri (found in its openid-configuration), kept between requests."""
    assert server.get("/orders", headers={"Authorization": issuer.token()}).status_code == 200
    fetched = len(issuer.fetched)
    assert server.get("/orders", headers={"Authorization": issuer.token()}).status_code == 200
    assert len(issuer.fetched) == fetched  # kept, not fetched per request
    time.sleep(1.1)  # an unknown kid fetches again, at most once a second
    issuer.rotate()

    response = server.get("/orders", headers={"Authorization": issuer.token()})

    assert response.status_code == 200, server.output()
    assert issuer.fetched[fetched:] == ["/.well-known/openid-configuration", "/jwks.json"]


def test_a_route_with_scopes_needs_one_of_them(server, issuer):
    """AuthorizationScopes: the token's `scope` (or `scp`) must hold at least one; a valid token without is 403."""
    mark = marker()
    missing = get(server, "/admin", mark, Authorization=issuer.token(scope="orders:read profile"))
    with_scope = server.get("/admin", headers={"Authorization": issuer.token(scope="profile orders:owner")})
    with_scp = server.get("/admin", headers={"Authorization": issuer.token(scp=["orders:admin"])})

    assert missing.status_code == 403
    assert missing.json() == FORBIDDEN
    assert 'error="insufficient_scope"' in missing.headers["www-authenticate"]
    assert not echo_ran(server, mark)
    assert with_scope.status_code == 200
    assert with_scope.json()["requestContext"]["authorizer"]["jwt"]["scopes"] == ["profile", "orders:owner"]
    assert with_scp.status_code == 200


def test_authorizer_none_opens_one_route_of_an_api_with_a_default(server):
    response = server.get("/health")

    assert response.status_code == 200
    assert "authorizer" not in response.json()["requestContext"]


def test_a_payload_1_0_route_gets_the_claims_at_the_top_of_its_authorizer(server, issuer):
    response = server.get("/v1/orders", headers={"Authorization": issuer.token(email="a@example.com")})

    assert response.status_code == 200
    authorizer = response.json()["requestContext"]["authorizer"]
    assert authorizer["claims"]["email"] == "a@example.com"
    assert authorizer["scopes"] is None


# --- Lambda authorizers: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html


def test_a_missing_identity_source_is_401_without_calling_the_authorizer(server):
    mark = marker()

    response = get(server, "/simple/1", mark)

    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert authorizer_events(server, mark) == []
    assert not echo_ran(server, mark)


def test_a_simple_response_allows_passes_its_context_and_is_cached_by_identity(server):
    """ReauthorizeEvery 300: the same X-Token within the TTL is answered from the cache, for every route of the
    authorizer; another token calls the authorizer again."""
    token = "good-" + marker()
    first = server.get("/simple/1", headers={"X-Token": token})
    again = server.request("POST", "/other", headers={"X-Token": token})
    other = server.get("/simple/2", headers={"X-Token": token + "-other"})

    assert first.status_code == again.status_code == other.status_code == 200, server.output()
    assert first.json()["requestContext"]["authorizer"] == {
        "lambda": {"user": token, "level": 3, "admin": False, "teams": ["a", "b"]}
    }
    assert len(authorizer_events(server, token)) == 2  # the token, then the other token


def test_the_2_0_authorizer_event_is_the_request_with_route_arn_and_identity_source(server):
    token = "good-" + marker()

    server.get("/simple/42", params={"q": "1"}, headers={"X-Token": token, "Cookie": "a=1"})

    (event,) = authorizer_events(server, token)
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/simple/42"
    assert event["identitySource"] == [token]
    assert event["routeKey"] == "GET /simple/{id}"
    assert (event["rawPath"], event["rawQueryString"]) == ("/simple/42", "q=1")
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["a=1"]
    assert event["headers"]["x-token"] == token
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["routeKey"] == "GET /simple/{id}"
    assert "body" not in event


@pytest.mark.parametrize(
    ("token", "status", "body"),
    [
        ("bad", 403, FORBIDDEN),  # isAuthorized false
        ("crash", 500, INTERNAL_ERROR),  # "If API Gateway can't invoke your Lambda authorizer, ... 500"
        ("garbage", 500, INTERNAL_ERROR),  # "... or your Lambda authorizer returns a response in an invalid format"
    ],
)
def test_a_simple_response_that_denies_or_fails(server, token, status, body):
    mark = marker()

    response = get(server, "/simple/1", mark, **{"X-Token": token})

    assert (response.status_code, response.json()) == (status, body)
    assert not echo_ran(server, mark)


def test_an_iam_policy_is_evaluated_against_the_route_arn(server):
    """Payload 1.0: an IAM policy. Allow on a wildcard covering the route; an Allow elsewhere only, or an explicit
    Deny beside an Allow, is a 403. No ReauthorizeEvery: the authorizer is called for every request."""
    mark = marker()
    allowed = server.get("/policy/7", params={"tenant": mark}, headers={"X-Token": "good"})
    allowed_again = server.get("/policy/7", params={"tenant": mark}, headers={"X-Token": "good"})
    elsewhere = server.get("/policy/7", params={"tenant": mark}, headers={"X-Token": "good-elsewhere"})
    denied = server.get("/policy/7", params={"tenant": mark}, headers={"X-Token": "deny"})

    assert allowed.status_code == allowed_again.status_code == 200, server.output()
    assert (elsewhere.status_code, elsewhere.json()) == (403, FORBIDDEN)
    assert (denied.status_code, denied.json()) == (403, FORBIDDEN)
    assert len(authorizer_events(server, mark)) == 4
    # A 1.0 function gets the context at the top of requestContext.authorizer, with the principalId.
    assert allowed.json()["requestContext"]["authorizer"] == {
        "user": "good",
        "level": 3,
        "admin": False,
        "teams": ["a", "b"],
        "principalId": "user-good",
    }


def test_the_1_0_authorizer_event_carries_method_arn_and_joined_identity_sources(server):
    mark = marker()

    server.get("/policy/9", params={"tenant": mark}, headers={"X-Token": "good"})

    (event,) = authorizer_events(server, mark)
    assert event["version"] == "1.0"
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:api/$default/GET/policy/9"
    assert event["identitySource"] == event["authorizationToken"] == f"good,{mark}"
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/policy/{id}", "/policy/9", "GET")
    assert event["queryStringParameters"] == {"tenant": mark}
    assert event["multiValueHeaders"]["x-token"] == ["good"]
    assert event["pathParameters"] == {"id": "9"}
    assert event["requestContext"]["resourcePath"] == "/policy/{id}"
    assert "authorizer" not in event["requestContext"]

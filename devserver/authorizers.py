"""HTTP API authorizers, decided as API Gateway decides them before a route's function runs: JWT authorizers (the
token checked against its issuer's published keys) and Lambda REQUEST authorizers (a function of the template asked,
its answer cached by the identity sources' values). devserver.gateway builds the events and invokes the functions;
this module holds the decisions, each with the page it follows.
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-access-control.html
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from devserver.template import Authorizer

Clock = Callable[[], float]

# Quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
DISCOVERY_TIMEOUT_SECONDS = 1.5  # "Timeout for OpenID Connect discovery endpoint: 1500 ms"
JWKS_TIMEOUT_SECONDS = 1.5  # "Timeout for JSON Web Key Set endpoint: 1500 ms"
MAX_JWKS_BYTES = 150_000  # "Response size from JSON Web Key Set endpoint: 150000 bytes"
LAMBDA_AUTHORIZER_TIMEOUT_SECONDS = 10.0  # "Timeout for Lambda authorizer response: 10000 ms"
KEYS_LIFETIME_SECONDS = 300.0  # how long a fetched key set is used before it is fetched again
REFETCH_AFTER_SECONDS = 1.0  # an unknown kid fetches the key set again, at most this often
# "Currently, only RSA-based algorithms are supported":
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")


# --- What the client gets when it is refused ---------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """API Gateway's own answer instead of the function's: `{"message": ...}` with this status."""

    status: int
    message: str
    www_authenticate: str | None = None
    reason: str = ""  # for the dev server's log: which check failed


def unauthorized(reason: str, description: str | None = None, scopes: tuple[str, ...] = ()) -> Refusal:
    """A JWT that is missing (no challenge parameters, RFC 6750 section 3.1) or invalid. The invalid one's header is
    AWS's documented shape, `Bearer scope="" error="invalid_token" error_description="..."`, whose one published
    description is "the token does not have a valid audience"; the other descriptions follow its wording.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html"""
    if description is None:
        return Refusal(401, "Unauthorized", "Bearer", reason)
    challenge = f'Bearer scope="{" ".join(scopes)}" error="invalid_token" error_description="{description}"'
    return Refusal(401, "Unauthorized", challenge, reason)


def forbidden(reason: str, www_authenticate: str | None = None) -> Refusal:
    return Refusal(403, "Forbidden", www_authenticate, reason)


def server_error(reason: str) -> Refusal:
    """The authorizer could not be run, or answered what API Gateway cannot read: a 500.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html (Troubleshooting)"""
    return Refusal(500, "Internal Server Error", None, reason)


@dataclass(frozen=True)
class Granted:
    """What the route's function learns of its caller, in `requestContext.authorizer`."""

    jwt: dict[str, Any] | None = None  # {"claims": {...}, "scopes": [...] | None}
    context: dict[str, Any] | None = None  # a Lambda authorizer's `context`
    principal_id: str | None = None  # a Lambda authorizer's IAM policy answer's principalId

    def for_event(self, payload_format: str) -> dict[str, Any]:
        """2.0 nests them (`jwt`, `lambda`); 1.0 puts them at the top, as a REST API does.
        https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html"""
        if self.jwt is not None:
            return {"jwt": self.jwt} if payload_format == "2.0" else dict(self.jwt)
        context = dict(self.context or {})
        if payload_format == "2.0":
            return {"lambda": context}
        if self.principal_id is not None:
            context["principalId"] = self.principal_id
        return context


# --- Identity sources ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestView:
    """What identity source expressions read: headers (lower-case names, every value), the query string's
    parameters (every value), the stage's variables, and the context variables of the request."""

    headers: Mapping[str, list[str]]
    query: Mapping[str, list[str]]
    stage_variables: Mapping[str, str]
    context: Mapping[str, str]


def identity_value(expression: str, request: RequestView) -> str | None:
    """The value of one identity source, None when the request lacks it or it is empty. Header names are
    case-insensitive, query string names case-sensitive; repeated values are joined with commas, as in 2.0 events.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html#http-api-lambda-authorizer.identity-sources"""
    values: list[str] | None = None
    if expression.startswith("$request.header."):
        values = request.headers.get(expression.removeprefix("$request.header.").lower())
    elif expression.startswith("$request.querystring."):
        values = request.query.get(expression.removeprefix("$request.querystring."))
    elif expression.startswith("$stageVariables."):
        found = request.stage_variables.get(expression.removeprefix("$stageVariables."))
        values = None if found is None else [found]
    elif expression.startswith("$context."):
        found = request.context.get(expression.removeprefix("$context."))
        values = None if found is None else [found]
    value = ",".join(values) if values else ""
    return value or None


# --- JWT authorizers -------------------------------------------------------------------------------------------


class KeysUnavailable(Exception):
    """The issuer's discovery document or key set could not be fetched or read."""


def fetch_json(url: str, timeout: float, max_bytes: int | None = None) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - http(s) only
    if not url.startswith(("https://", "http://")):
        raise KeysUnavailable(f"{url} is not an http(s) URL")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - checked above
            data = response.read(max_bytes + 1 if max_bytes else -1)
    except (OSError, ValueError) as error:
        raise KeysUnavailable(f"GET {url}: {error}") from error
    if max_bytes is not None and len(data) > max_bytes:
        raise KeysUnavailable(f"GET {url}: over {max_bytes} bytes")
    try:
        return json.loads(data)
    except ValueError as error:
        raise KeysUnavailable(f"GET {url}: not JSON") from error


class IssuerKeys:
    """Each issuer's signing keys: `{issuer}/.well-known/openid-configuration` names its `jwks_uri`, whose keys are
    kept for KEYS_LIFETIME_SECONDS and fetched again sooner for a kid they do not have (a rotated key). An issuer on
    127.0.0.1 is fine: only the URL matters."""

    def __init__(self, fetch: Callable[..., Any] = fetch_json, clock: Clock = time.monotonic) -> None:
        self.fetch = fetch
        self.clock = clock
        self.lock = threading.Lock()
        self.sets: dict[str, tuple[float, dict[str, jwt.PyJWK]]] = {}  # issuer -> (fetched at, keys by kid)

    def key(self, issuer: str, kid: str) -> jwt.PyJWK | None:
        """The key with this kid, None if the issuer publishes none; KeysUnavailable if its keys cannot be had."""
        with self.lock:
            fetched = self.sets.get(issuer)
            age = self.clock() - fetched[0] if fetched else None
            stale = age is None or age > KEYS_LIFETIME_SECONDS
            if stale or (kid not in fetched[1] and age > REFETCH_AFTER_SECONDS):  # type: ignore[index,operator]
                self.sets[issuer] = fetched = (self.clock(), self.download(issuer))
            return fetched[1].get(kid)  # type: ignore[index]

    def download(self, issuer: str) -> dict[str, jwt.PyJWK]:
        discovery = self.fetch(
            issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=DISCOVERY_TIMEOUT_SECONDS
        )
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str):
            raise KeysUnavailable(f"{issuer}'s openid-configuration has no jwks_uri")
        document = self.fetch(jwks_uri, timeout=JWKS_TIMEOUT_SECONDS, max_bytes=MAX_JWKS_BYTES)
        keys = {}
        for entry in (document.get("keys") if isinstance(document, dict) else None) or []:
            if isinstance(entry, dict) and isinstance(entry.get("kid"), str) and entry.get("kty") == "RSA":
                try:
                    keys[entry["kid"]] = jwt.PyJWK(entry)
                except jwt.PyJWKError:
                    continue  # a key of a kind or use it cannot be: as if it were not published
        return keys


def claim_string(value: Any) -> str:
    """A claim as API Gateway hands it to the function: every value a string, a list the way Go prints a slice
    (`[a b]`), a number without a fraction as an integer. AWS's examples show only string values; the list form
    is what HTTP APIs are reported to send (e.g. `cognito:groups`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + " ".join(claim_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{key}:{claim_string(item)}" for key, item in sorted(value.items())) + "]"
    return "" if value is None else str(value)


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: its `scope` claim (space-separated), else `scp` (a string or a list)."""
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(item) for item in value]
    return []


def check_jwt(
    token: str | None, authorizer: Authorizer, route_scopes: tuple[str, ...], keys: IssuerKeys, now: float
) -> Granted | Refusal:
    """API Gateway's checks, in its order: the token (with or without `Bearer `), its RSA signature by a key of the
    issuer's jwks_uri named by its kid, `iss`, `aud` (or `client_id` when there is no `aud`), `exp`, `nbf`, `iat`,
    then the route's scopes: any one of them in `scope` or `scp`.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html"""
    if token is None:
        return unauthorized("no token in " + ", ".join(authorizer.identity_source))
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()

    def invalid(description: str) -> Refusal:
        return unauthorized(description, description, route_scopes)

    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        return invalid("the token is not a valid JWT")
    algorithm, kid = header.get("alg"), header.get("kid")
    if algorithm not in RSA_ALGORITHMS:
        return invalid(f"signing method {algorithm} is invalid")
    if not isinstance(kid, str):
        return invalid("the token has no kid")
    try:
        key = keys.key(authorizer.issuer, kid)
    except KeysUnavailable as error:
        return server_error(f"the signing keys of {authorizer.issuer} are not available: {error}")
    if key is None:
        return invalid("the token's kid is not in the issuer's key set")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[algorithm],
            # the claims are checked below, in AWS's order and against the dev server's clock
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except jwt.InvalidTokenError:
        return invalid("the token's signature is not valid")
    if claims.get("iss") != authorizer.issuer:
        return invalid("the token does not have a valid issuer")
    audience = claims["aud"] if "aud" in claims else claims.get("client_id")  # client_id only when aud is absent
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(entry, str) and entry in authorizer.audience for entry in audiences):
        return invalid("the token does not have a valid audience")
    if not _before(now, claims, "exp"):
        return invalid("the token has expired")
    if not _after(now, claims, "nbf"):
        return invalid("the token is not valid yet")
    if not _after(now, claims, "iat"):
        return invalid("the token was issued in the future")
    scopes = token_scopes(claims)
    if route_scopes and not set(route_scopes) & set(scopes):
        wanted = " ".join(route_scopes)
        challenge = f'Bearer scope="{wanted}" error="insufficient_scope" error_description="the token does not have the required scopes"'  # noqa: E501
        return forbidden(f"the token has none of the route's scopes ({wanted})", challenge)
    rendered = {name: claim_string(value) for name, value in claims.items()}
    # `scopes` is null unless the route asks for scopes, as HTTP APIs are reported to send it.
    return Granted(jwt={"claims": rendered, "scopes": scopes if route_scopes else None})


def _before(now: float, claims: Mapping[str, Any], name: str) -> bool:
    value = claims.get(name)
    return value is None or (_number(value) and now < float(value))


def _after(now: float, claims: Mapping[str, Any], name: str) -> bool:
    value = claims.get(name)
    return value is None or (_number(value) and float(value) <= now)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- Lambda authorizers ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LambdaAnswer:
    """A Lambda authorizer's answer, read once and kept (cached) as it is: a simple response's verdict, or an IAM
    policy's statements, evaluated against each request's route ARN."""

    context: dict[str, Any]
    allowed: bool | None = None  # a simple response
    statements: tuple[dict[str, Any], ...] = ()  # an IAM policy
    principal_id: str | None = None

    def allows(self, route_arn: str) -> bool:
        return self.allowed if self.allowed is not None else policy_allows(self.statements, route_arn)


def read_answer(authorizer: Authorizer, payload: Any) -> LambdaAnswer | None:
    """The function's result as API Gateway reads it, None when it is not a valid answer (a 500): with simple
    responses `{"isAuthorized": bool, "context": {...}}`, otherwise an IAM policy, `{"principalId": ...,
    "policyDocument": {"Statement": [...]}, "context": {...}}`.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html#http-api-lambda-authorizer.payload-format-response"""
    if not isinstance(payload, dict):
        return None
    context = payload.get("context") or {}
    if not isinstance(context, dict):
        return None
    if authorizer.simple_responses:
        verdict = payload.get("isAuthorized")
        return LambdaAnswer(context, allowed=verdict) if isinstance(verdict, bool) else None
    principal, policy = payload.get("principalId"), payload.get("policyDocument")
    if not isinstance(principal, str) or not isinstance(policy, dict):
        return None
    statements = policy.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not statements or not all(map(_valid_statement, statements)):
        return None
    return LambdaAnswer(context, statements=tuple(statements), principal_id=principal)


def _valid_statement(statement: Any) -> bool:
    return (
        isinstance(statement, dict)
        and statement.get("Effect") in ("Allow", "Deny")
        and all(_strings(statement.get(key)) for key in ("Action", "Resource"))
    )


def _strings(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)
    )


def policy_allows(statements: tuple[dict[str, Any], ...], route_arn: str) -> bool:
    """IAM's evaluation for `execute-api:Invoke` on the route ARN: an explicit Deny wins, else an Allow allows, else
    it is denied. `*` and `?` are wildcards in actions (case-insensitive) and resources (case-sensitive).
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"""
    allowed = False
    for statement in statements:
        actions = _as_list(statement["Action"])
        resources = _as_list(statement["Resource"])
        if not any(_wildcard(action, re.IGNORECASE).fullmatch("execute-api:Invoke") for action in actions):
            continue
        if not any(_wildcard(resource).fullmatch(route_arn) for resource in resources):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _wildcard(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), flags)


class AnswerCache:
    """Lambda authorizers' answers by authorizer and identity source values, each for its TTL: "If a client
    specifies the same parameters in identity sources within the configured TTL, API Gateway uses the cached
    authorizer result, rather than invoking your Lambda function", for every route that uses the authorizer.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html#http-api-lambda-authorizer.caching"""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.entries: dict[tuple[str, ...], tuple[float, LambdaAnswer]] = {}

    def get(self, key: tuple[str, ...]) -> LambdaAnswer | None:
        entry = self.entries.get(key)
        if entry is None or self.clock() >= entry[0]:
            self.entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: tuple[str, ...], answer: LambdaAnswer, ttl_seconds: int) -> None:
        if ttl_seconds > 0:
            self.entries[key] = (self.clock() + ttl_seconds, answer)

    def clear(self) -> None:
        self.entries.clear()

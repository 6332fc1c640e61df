"""HttpApi stages and authorizers: SAM's Auth and StageName read into the dev server's model, and the decisions the
gateway takes with them (JWT checks, IAM policy evaluation, the Lambda authorizer answer cache), each on its own,
with an injected clock and key fetcher instead of a network and the wall clock."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import jwt
import pytest

from devserver.authorizers import (
    KEYS_LIFETIME_SECONDS,
    AnswerCache,
    Granted,
    IssuerKeys,
    KeysUnavailable,
    LambdaAnswer,
    Refusal,
    RequestView,
    check_jwt,
    claim_string,
    identity_value,
    policy_allows,
    read_answer,
)
from devserver.gateway import Gateway
from devserver.template import App, Authorizer, TemplateError, load_app
from tests.fakes.oidc_issuer import rsa_key

ISSUER = "https://issuer.example"
NOW = 1_800_000_000.0


def write_template(directory: Path, text: str) -> App:
    (directory / "template.yaml").write_text(textwrap.dedent(text))
    return load_app(directory / "template.yaml")


AUTH_TEMPLATE = """
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: prod
      StageVariables: {color: blue, retries: 3}
      Auth:
        DefaultAuthorizer: Oidc
        Authorizers:
          Oidc:
            IdentitySource: $request.header.Authorization
            AuthorizationScopes: [read]
            JwtConfiguration: {Issuer: "https://issuer.example", Audience: [api, web]}
          Gate:
            FunctionArn: !GetAtt GateFunction.Arn
            AuthorizerPayloadFormatVersion: 1.0
            Identity: {Headers: [X-Key], QueryStrings: [tenant], Context: [routeKey], ReauthorizeEvery: 60}
          Simple:
            FunctionArn: !Sub arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:gate-fn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
  GateFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: ., Handler: app.handler, FunctionName: gate-fn}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.handler
      Events:
        Default: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /a, Method: get}}
        Scoped:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /b, Method: get, Auth: {AuthorizationScopes: [write]}}
        Open: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /c, Method: get, Auth: {Authorizer: NONE}}}
        Gated: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /d, Method: get, Auth: {Authorizer: Gate}}}
"""


# --- Reading the template -----------------------------------------------------------------------------------------


def test_sam_auth_becomes_authorizers_and_each_route_gets_its_own_or_the_default(tmp_path):
    """https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-httpapi-httpapiauth.html"""
    app = write_template(tmp_path, AUTH_TEMPLATE)

    api = app.apis["Api"]
    assert api.default_authorizer == "Oidc"
    assert api.authorizers["Oidc"] == Authorizer(
        "Oidc", "JWT", ("$request.header.Authorization",), issuer=ISSUER, audience=("api", "web"), scopes=("read",)
    )
    assert api.authorizers["Gate"] == Authorizer(
        "Gate",
        "REQUEST",
        ("$request.header.X-Key", "$request.querystring.tenant", "$context.routeKey"),
        function="GateFunction",
        payload_format="1.0",
        ttl_seconds=60,
    )
    simple = api.authorizers["Simple"]
    assert (simple.function, simple.simple_responses, simple.identity_source) == ("GateFunction", True, ())
    routes = {route.path: (route.authorizer, route.scopes) for route in app.routes}
    # The event's AuthorizationScopes override the authorizer's own; NONE opens the route.
    assert routes == {"/a": ("Oidc", ("read",)), "/b": ("Oidc", ("write",)), "/c": (None, ()), "/d": ("Gate", ())}


def test_stage_name_and_variables_with_the_globals_and_the_implicit_api_on_default(tmp_path):
    app = write_template(
        tmp_path,
        AUTH_TEMPLATE.replace(
            "Resources:", "Globals:\n  HttpApi:\n    StageVariables: {shared: g, color: grey}\nResources:"
        )
        + "        Implicit: {Type: HttpApi, Properties: {Path: /i, Method: get}}\n",
    )

    assert (app.apis["Api"].stage, app.apis["Api"].stage_variables) == (
        "prod",
        {"shared": "g", "color": "blue", "retries": "3"},
    )
    implicit = app.apis["ServerlessHttpApi"]
    assert (implicit.stage, implicit.stage_variables, implicit.authorizers) == (
        "$default",
        {"shared": "g", "color": "grey"},
        {},
    )


def test_our_own_template_has_no_authorizers_and_only_default_stages():
    """The project's API does its auth in the layer: the dev server must not start guarding its routes."""
    app = load_app(Path(__file__).resolve().parents[2] / "template.yaml")

    assert all(route.authorizer is None for route in app.routes)
    assert {(api.stage, bool(api.authorizers)) for api in app.apis.values()} == {("$default", False)}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("DefaultAuthorizer: Oidc", "DefaultAuthorizer: Nope"), "DefaultAuthorizer 'Nope' is not one of"),
        (("Auth: {Authorizer: Gate}", "Auth: {Authorizer: Nope}"), "Authorizer 'Nope' is not one of Api's"),
        (("Auth: {Authorizer: Gate}", "Auth: {Authorizer: Gate, AuthorizationScopes: [x]}"), "JWT authorizers only"),
        (("FunctionArn: !GetAtt GateFunction.Arn", "FunctionArn: arn:aws:lambda:x:1:function:elsewhere"), "cannot run"),
        (("AuthorizerPayloadFormatVersion: 1.0", "AuthorizerPayloadFormatVersion: 3.0"), "must be 1.0 or 2.0"),
        (("ReauthorizeEvery: 60", "ReauthorizeEvery: 3601"), "0..3600"),
        (("IdentitySource: $request.header.Authorization", "IdentitySource: $context.x"), "IdentitySource must"),
        (("StageName: prod", "StageName: pro/d"), "StageName 'pro/d'"),
    ],
)
def test_what_sam_or_api_gateway_would_refuse_is_a_template_error(tmp_path, change, message):
    with pytest.raises(TemplateError, match=message):
        write_template(tmp_path, AUTH_TEMPLATE.replace(*change))


@pytest.mark.parametrize(
    ("change", "served", "refused"),
    [
        (("Auth: {Authorizer: Gate}", "Auth: {Authorizer: AWS_IAM}"), {"/a", "/b", "/c"}, ["Fn event Gated"]),
        (
            ("DefaultAuthorizer: Oidc", "EnableIamAuthorizer: true\n        DefaultAuthorizer: AWS_IAM"),
            {"/c", "/d"},
            ["Fn event Default", "Fn event Scoped"],
        ),
    ],
    ids=["route", "default"],
)
def test_a_route_guarded_by_iam_is_named_at_start_and_not_served_while_the_rest_is(tmp_path, change, served, refused):
    """IAM authorization is valid on AWS but not checked locally: the route must not be served open, and the
    template's other routes still are."""
    app = write_template(tmp_path, AUTH_TEMPLATE.replace(*change))

    assert {route.path for route in app.routes} == served
    iam = [warning.split(":")[0] for warning in app.warnings if "IAM authorization" in warning]
    assert iam == refused


def test_none_needs_a_default_and_auth_without_authorizer_needs_one_too(tmp_path):
    without_default = AUTH_TEMPLATE.replace("        DefaultAuthorizer: Oidc\n", "")
    with pytest.raises(TemplateError, match="Fn event Scoped: Auth needs an Authorizer"):
        write_template(tmp_path, without_default)
    scoped_named = without_default.replace("Auth: {AuthorizationScopes", "Auth: {Authorizer: Oidc, AuthorizationScopes")
    with pytest.raises(TemplateError, match="Fn event Open: Authorizer NONE is only valid"):
        write_template(tmp_path, scoped_named)


def test_globals_http_api_takes_no_stage_name(tmp_path):
    with pytest.raises(TemplateError, match="StageName is not a property SAM takes from Globals"):
        write_template(tmp_path, "Globals:\n  HttpApi:\n    StageName: prod\n" + AUTH_TEMPLATE)


# --- JWT checks ---------------------------------------------------------------------------------------------------


class Keys:
    """An issuer's key set behind IssuerKeys, fetched through a stub that counts its calls."""

    def __init__(self) -> None:
        self.private = {"k1": rsa_key()}
        self.calls: list[str] = []
        self.now = 0.0
        self.keys = IssuerKeys(fetch=self.fetch, clock=lambda: self.now)

    def fetch(self, url: str, timeout: float, max_bytes: int | None = None) -> Any:
        self.calls.append(url)
        if url == ISSUER + "/.well-known/openid-configuration":
            return {"jwks_uri": ISSUER + "/keys"}
        public = [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid}
            for kid, key in self.private.items()
        ]
        return {"keys": public}

    def token(self, kid: str = "k1", **claims: Any) -> str:
        body = {"iss": ISSUER, "aud": "api", "exp": NOW + 60, "iat": NOW - 60, "sub": "u", **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, self.private[kid], "RS256", {"kid": kid})


JWT = Authorizer("Oidc", "JWT", ("$request.header.Authorization",), issuer=ISSUER, audience=("api", "web"))


def check(keys: Keys, token: str | None, scopes: tuple[str, ...] = (), now: float = NOW) -> Granted | Refusal:
    return check_jwt(token, JWT, scopes, keys.keys, now)


def description(result: Granted | Refusal) -> str:
    assert isinstance(result, Refusal), result
    return f"{result.status} {result.www_authenticate}"


def test_a_valid_token_is_granted_with_its_claims_rendered_as_strings():
    keys = Keys()

    result = check(keys, "Bearer " + keys.token(aud=["web", "x"], n=5, f=1.5, ok=False, groups=["a", "b"]))

    assert isinstance(result, Granted)
    assert result.jwt == {
        "claims": {
            "iss": ISSUER,
            "aud": "[web x]",
            "exp": str(int(NOW + 60)),
            "iat": str(int(NOW - 60)),
            "sub": "u",
            "n": "5",
            "f": "1.5",
            "ok": "false",
            "groups": "[a b]",
        },
        "scopes": None,
    }
    assert result.for_event("2.0") == {"jwt": result.jwt}
    assert result.for_event("1.0") == result.jwt


@pytest.mark.parametrize(
    ("claims", "now", "expected"),
    [
        ({"exp": NOW}, NOW, "the token has expired"),  # exp must be after now: at exp it is over
        ({"exp": NOW + 1}, NOW, None),
        ({"nbf": NOW + 1}, NOW, "the token is not valid yet"),
        ({"nbf": NOW}, NOW, None),
        ({"iat": NOW + 1}, NOW, "the token was issued in the future"),
        ({"iss": ISSUER + "/"}, NOW, "the token does not have a valid issuer"),
        ({"aud": "other"}, NOW, "the token does not have a valid audience"),
        ({"aud": None, "client_id": "web"}, NOW, None),
        ({"aud": "other", "client_id": "web"}, NOW, "the token does not have a valid audience"),
        ({"aud": None}, NOW, "the token does not have a valid audience"),
    ],
)
def test_claims_are_checked_against_the_clock_and_the_configuration(claims, now, expected):
    keys = Keys()

    result = check(keys, keys.token(**claims), now=now)

    if expected is None:
        assert isinstance(result, Granted)
    else:
        assert description(result) == f'401 Bearer scope="" error="invalid_token" error_description="{expected}"'


def test_missing_malformed_forged_and_non_rsa_tokens_are_401():
    keys = Keys()
    forged = jwt.encode({"iss": ISSUER, "aud": "api"}, rsa_key(), "RS256", {"kid": "k1"})
    hmac = jwt.encode({"iss": ISSUER, "aud": "api"}, "s" * 32, "HS256", {"kid": "k1"})
    no_kid = jwt.encode({"iss": ISSUER, "aud": "api"}, keys.private["k1"], "RS256")

    assert description(check(keys, None)) == "401 Bearer"
    assert "the token is not a valid JWT" in description(check(keys, "Bearer not.a.jwt"))
    assert "signature is not valid" in description(check(keys, forged))
    assert "signing method HS256 is invalid" in description(check(keys, hmac))
    assert "the token has no kid" in description(check(keys, no_kid))


def test_scopes_any_one_of_the_routes_from_scope_or_scp_else_403():
    keys = Keys()

    granted = check(keys, keys.token(scope="read write"), scopes=("admin", "write"))
    from_scp = check(keys, keys.token(scp=["admin"]), scopes=("admin",))
    refused = check(keys, keys.token(scope="read"), scopes=("admin", "write"))

    assert isinstance(granted, Granted)
    assert granted.jwt is not None
    assert granted.jwt["scopes"] == ["read", "write"]
    assert isinstance(from_scp, Granted)
    assert isinstance(refused, Refusal)
    assert (refused.status, refused.message) == (403, "Forbidden")
    assert refused.www_authenticate == (
        'Bearer scope="admin write" error="insufficient_scope" '
        'error_description="the token does not have the required scopes"'
    )


def test_the_issuers_keys_are_fetched_once_then_again_for_an_unknown_kid_or_when_stale():
    keys = Keys()
    assert isinstance(check(keys, keys.token()), Granted)
    assert isinstance(check(keys, keys.token()), Granted)
    assert keys.calls == [ISSUER + "/.well-known/openid-configuration", ISSUER + "/keys"]

    keys.private["k2"] = rsa_key()  # rotated in at the issuer
    assert isinstance(check(keys, keys.token("k2")), Refusal)  # too soon after the last fetch: not fetched again
    keys.now = 1.5
    assert isinstance(check(keys, keys.token("k2")), Granted)
    assert len(keys.calls) == 4
    keys.now = 1.5 + KEYS_LIFETIME_SECONDS + 1
    assert isinstance(check(keys, keys.token("k2")), Granted)
    assert len(keys.calls) == 6


def test_keys_that_cannot_be_fetched_are_a_500_naming_the_issuer():
    def unreachable(url: str, timeout: float, max_bytes: int | None = None) -> Any:
        raise KeysUnavailable(f"GET {url}: connection refused")

    keys = Keys()
    keys.keys = IssuerKeys(fetch=unreachable)

    result = check(keys, keys.token())

    assert isinstance(result, Refusal)
    assert (result.status, result.message) == (500, "Internal Server Error")
    assert "signing keys of https://issuer.example are not available" in result.reason


@pytest.mark.parametrize(("value", "rendered"), [("x", "x"), (3, "3"), (2.0, "2"), (True, "true"), ([1, "a"], "[1 a]")])
def test_claim_values_are_strings(value, rendered):
    assert claim_string(value) == rendered


# --- Lambda authorizers -------------------------------------------------------------------------------------------

ARN = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets/7"
POLICY = Authorizer("Gate", "REQUEST", ("$request.header.X-Key",), function="Fn", payload_format="1.0")
SIMPLE = Authorizer("Gate", "REQUEST", (), function="Fn", payload_format="2.0", simple_responses=True)


def statement(effect: str, resource: str | list[str], action: str | list[str] = "execute-api:Invoke") -> dict:
    return {"Effect": effect, "Action": action, "Resource": resource}


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([statement("Allow", ARN)], True),
        ([statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:api/*/GET/*")], True),
        ([statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/pets/?")], True),
        ([statement("Allow", "arn:aws:execute-api:us-east-1:123456789012:api/prod/POST/*")], False),
        ([statement("Allow", ["x", ARN], ["s3:GetObject", "execute-api:*"])], True),
        ([statement("Allow", "*", "Execute-API:invoke")], True),  # actions are case-insensitive
        ([statement("Allow", ARN, "s3:*")], False),
        ([statement("Allow", "*"), statement("Deny", ARN)], False),  # an explicit Deny wins
        ([statement("Deny", "arn:aws:execute-api:*:*:*/*/POST/*"), statement("Allow", "*")], True),
        ([statement("Allow", ARN.upper())], False),  # resources are case-sensitive
    ],
)
def test_an_iam_policy_is_evaluated_as_iam_does(statements, allowed):
    assert policy_allows(tuple(statements), ARN) is allowed


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "allow",
        {"policyDocument": {"Statement": [statement("Allow", ARN)]}},  # no principalId
        {"principalId": "u", "policyDocument": {"Statement": []}},
        {"principalId": "u", "policyDocument": {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}},
        {"principalId": "u", "policyDocument": {"Statement": [statement("Allow", ARN)]}, "context": "x"},
    ],
)
def test_an_answer_api_gateway_cannot_read_is_none(payload):
    assert read_answer(POLICY, payload) is None


def test_answers_read_in_both_shapes():
    policy = read_answer(
        POLICY, {"principalId": "u", "policyDocument": {"Statement": statement("Allow", ARN)}, "context": {"a": 1}}
    )
    simple = read_answer(SIMPLE, {"isAuthorized": False, "context": {"b": 2}})

    assert policy == LambdaAnswer({"a": 1}, statements=(statement("Allow", ARN),), principal_id="u")
    assert policy is not None
    assert policy.allows(ARN)
    assert not policy.allows(ARN + "/x")
    assert simple == LambdaAnswer({"b": 2}, allowed=False)
    assert read_answer(SIMPLE, {"isAuthorized": "true"}) is None  # a boolean, not a string
    granted = Granted(context={"a": 1}, principal_id="u")
    assert granted.for_event("2.0") == {"lambda": {"a": 1}}
    assert granted.for_event("1.0") == {"a": 1, "principalId": "u"}


def test_cached_answers_last_their_ttl_on_the_injected_clock():
    now = [100.0]
    cache = AnswerCache(clock=lambda: now[0])
    answer = LambdaAnswer({}, allowed=True)
    cache.put(("Api", "Gate", "k"), answer, 60)
    cache.put(("Api", "Gate", "other"), answer, 0)  # TTL 0: not cached

    now[0] = 159.9
    assert cache.get(("Api", "Gate", "k")) is answer
    assert cache.get(("Api", "Gate", "other")) is None
    now[0] = 160.0
    assert cache.get(("Api", "Gate", "k")) is None


def test_identity_sources_read_headers_query_stage_variables_and_context():
    view = RequestView(
        headers={"x-key": ["a", "b"], "empty": [""]},
        query={"tenant": ["t1"], "Tenant": ["T"]},
        stage_variables={"env": "prod"},
        context={"routeKey": "GET /pets"},
    )

    assert identity_value("$request.header.X-Key", view) == "a,b"
    assert identity_value("$request.header.Empty", view) is None
    assert identity_value("$request.header.missing", view) is None
    assert identity_value("$request.querystring.Tenant", view) == "T"  # query names are case-sensitive
    assert identity_value("$stageVariables.env", view) == "prod"
    assert identity_value("$context.routeKey", view) == "GET /pets"
    assert identity_value("$context.nothing", view) is None


def test_a_named_stage_prefixes_its_apis_routes_and_wins_over_a_default_stage_api(tmp_path):
    """Each API has a host of its own on AWS; on the dev server's one port, a path under a named stage goes to that
    stage's API even where a $default-stage API's greedy route would match it too."""
    app = write_template(
        tmp_path,
        """
        Resources:
          Prod: {Type: AWS::Serverless::HttpApi, Properties: {StageName: prod}}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: .
              Handler: app.handler
              Events:
                Pets: {Type: HttpApi, Properties: {ApiId: !Ref Prod, Path: "/pets/{id}", Method: get}}
                Any: {Type: HttpApi, Properties: {Path: "/{proxy+}", Method: any}}
        """,
    )
    gateway = Gateway(app, {})

    def routed(path: str) -> tuple[str, str] | None:
        found = gateway.match("GET", path)
        return (found[0].api, found[0].path) if found else None

    assert routed("/prod/pets/1") == ("Prod", "/pets/{id}")
    assert routed("/pets/1") == ("ServerlessHttpApi", "/{proxy+}")
    assert routed("/prod/other") == ("ServerlessHttpApi", "/{proxy+}")
    assert gateway.route_arn(app.routes[0], "GET", "/prod/pets/1") == (
        "arn:aws:execute-api:us-east-1:123456789012:prod/prod/GET/pets/1"
    )

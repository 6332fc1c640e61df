"""HttpApi stages and authorizers: SAM's Auth and StageName read into the dev server's model, and the decisions the
gateway takes with them (JWT checks, IAM policy evaluation, the Lambda authorizer answer cache), each on its own,
with an injected clock and key fetcher instead of a network and the wall clock."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from devserver.gateway import Gateway
from devserver.template import App, Authorizer, TemplateError, load_app

ISSUER = "https://issuer.example"


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
        (("Auth: {Authorizer: Gate}", "Auth: {Authorizer: AWS_IAM}"), "IAM authorization"),
        (("DefaultAuthorizer: Oidc", "EnableIamAuthorizer: true"), "IAM authorization"),
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

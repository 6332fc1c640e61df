"""The dev server finds the routes of every form a template gives an HTTP API (an OpenAPI definition, plain
CloudFormation as CDK synthesizes it, a quick-created API, nested stacks), and names, once and with its logical id,
each thing it cannot serve. The forms are tests/integration/forms/ (adapted from AWS SAM CLI's start-api fixtures,
which tests/integration/test_api_forms.py serves over HTTP); the refusals are small templates of their own."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from devserver.template import App, TemplateError, load_app

FORMS = Path(__file__).resolve().parents[1] / "integration" / "forms"
ECHO = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def write(directory: Path, template: str, files: dict[str, str] | None = None, **kwargs: Any) -> App:
    """template.yaml (and other files) in `directory`, each function's code directory `echo/`, loaded."""
    (directory / "echo").mkdir(exist_ok=True)
    (directory / "echo" / "app.py").write_text(ECHO)
    for name, text in (files or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(textwrap.dedent(text))
    (directory / "template.yaml").write_text(textwrap.dedent(template))
    return load_app(directory / "template.yaml", **kwargs)


def routes(app: App) -> dict[str, tuple[str, str]]:
    """Route key -> (function, api)."""
    return {route.route_key: (route.function, route.api) for route in app.routes}


def warning(app: App, logical_id: str) -> str:
    """The one warning that names `logical_id` first."""
    (found,) = [text for text in app.warnings if text.startswith(f"{logical_id}:") or text.startswith(f"{logical_id} ")]
    return found


# --- the forms ----------------------------------------------------------------------------------------------------


def test_an_openapi_definition_body_is_served_with_the_events_that_name_its_api():
    """AWS, not sam local: an integration without payloadFormatVersion is not served (sam local takes it as 2.0;
    AWS requires it). https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html"""
    app = load_app(FORMS / "openapi-body" / "template.yaml")

    assert routes(app) == {
        "ANY /httpapi-anyandall": ("MyHttpApiLambdaFunction", "MyHttpApi"),
        "GET /httpapi-payload-format-v1/{id}": ("EchoEventHandlerHttpApiFunction", "MyHttpApi"),
        "GET /get": ("MyHttpApiLambdaFunction", "MyHttpApi"),  # the event gives the declared operation its integration
    }
    v1 = next(route for route in app.routes if route.path == "/httpapi-payload-format-v1/{id}")
    assert (v1.payload_format, v1.timeout_ms) == ("1.0", 5000)
    assert "no URI" in warning(app, "MyHttpApi POST /httpapi-echoeventbody")
    assert "no payload format version, which AWS requires" in warning(app, "MyHttpApi GET /httpapi-no-version")


def test_a_definition_uri_file_is_served_as_aws_imports_it_and_events_add_nothing_to_it():
    """AWS, not sam local: SAM adds HttpApi events to a DefinitionBody only, and leaves a DefinitionUri file's
    intrinsic functions as they are (sam local serves the events and resolves them, docs/sam-local.md).
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-httpapi.html#sam-httpapi-definitionuri"""
    app = load_app(FORMS / "openapi-uri" / "template.yaml")

    assert routes(app) == {
        "GET /items/{id}": ("ItemsFunction", "ItemsApi"),
        "POST /items": ("ItemsFunction", "ItemsApi"),
    }
    assert "AWS does not resolve in a DefinitionUri file" in warning(app, "ItemsApi GET /sub")
    assert "GET /extra names ItemsApi, whose definition is a DefinitionUri file" in warning(app, "ItemsFunction")
    assert app.template_files == (FORMS / "openapi-uri" / "openapi.yaml",)


def test_cdk_synthesized_cloudformation_serves_its_routes_with_the_functions_asset():
    """AWS, not sam local: an AWS::ApiGatewayV2::Stage's variables are its StageVariables (sam local reads Variables,
    a REST stage's property). https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigatewayv2-stage.html"""
    app = load_app(FORMS / "cdk" / "ApiStack.template.json")

    api = "httpapiexampleFD2D0249"
    function = "lambdaFuncD745B556"
    assert routes(app) == {
        "GET /get-info": (function, api),
        "ANY /anyandall": (function, api),
        "GET /proxypath/{proxy+}": (function, api),
        "GET /private": (function, api),
    }
    code = app.functions[function]
    assert code.code_dir == FORMS / "cdk" / "asset.5c2a7bd0e4f14f7d"
    assert (code.handler, code.runtime, code.timeout, code.memory_mb) == ("index.handler", "python3.12", 10, 256)
    assert code.environment == {"GREETING": "from cdk"}
    assert (app.apis[api].stage, app.apis[api].stage_variables) == ("$default", {"flavour": "cdk"})
    private = next(route for route in app.routes if route.path == "/private")
    authorizer = app.apis[api].authorizers[private.authorizer or ""]
    assert (authorizer.kind, authorizer.issuer, authorizer.audience) == (
        "JWT",
        "https://issuer.example.com",
        ("example-client",),
    )
    assert authorizer.identity_source == ("$request.header.Authorization",)
    assert private.scopes == ("read",)
    assert app.warnings == ()


def test_a_quick_created_api_is_one_default_route_to_its_target_with_its_cors():
    app = load_app(FORMS / "quick-create" / "template.yaml")

    assert routes(app) == {"$default": ("HelloWorldFunction", "HTTPAPIGateway")}
    assert app.routes[0].payload_format == "2.0"
    assert app.apis["HTTPAPIGateway"].cors == {
        "AllowOrigins": ["https://example.com"],
        "AllowMethods": ["GET"],
        "AllowHeaders": ["x-apigateway-header"],
        "AllowCredentials": True,
        "MaxAge": 600,
    }
    assert app.functions["HelloWorldFunction"].code_dir == FORMS / "quick-create" / "echo"


def test_a_quick_created_api_with_a_route_key_has_that_route_instead(tmp_path):
    app = write(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties: {Handler: app.handler, Runtime: python3.13, Code: echo/}
          QuickApi:
            Type: AWS::ApiGatewayV2::Api
            Properties: {ProtocolType: HTTP, RouteKey: GET /echoeventbody, Target: !GetAtt Fn.Arn}
        """,
    )

    assert routes(app) == {"GET /echoeventbody": ("Fn", "QuickApi")}


def test_nested_stacks_are_served_under_their_logical_ids_with_parameters_passed_down():
    app = load_app(FORMS / "nested" / "template.yaml", {"Audience": "tests"})

    assert routes(app) == {
        "GET /child/{name}": ("ChildApp/HelloFunction", "ChildApp/ServerlessHttpApi"),
        "GET /stack/hello": ("PlainStack/StackFunction", "PlainStack/StackApi"),
    }
    child = app.functions["ChildApp/HelloFunction"]
    assert child.environment == {"GREETING": "hello, tests"}  # the parent's !Sub, with the parent's parameter
    assert (child.name, child.code_dir) == ("HelloFunction", FORMS / "nested" / "child" / "echo")
    assert app.functions["PlainStack/StackFunction"].code_dir == FORMS / "nested" / "stack" / "echo"
    assert set(app.template_files) == {
        FORMS / "nested" / "child" / "template.yaml",
        FORMS / "nested" / "stack" / "template.json",
    }


def test_env_json_names_a_nested_function_by_its_logical_id_or_its_full_path(tmp_path):
    by_id = load_app(FORMS / "nested" / "template.yaml", env_vars={"HelloFunction": {"GREETING": "by id"}})
    by_path = load_app(FORMS / "nested" / "template.yaml", env_vars={"ChildApp/HelloFunction": {"GREETING": "by path"}})

    assert by_id.functions["ChildApp/HelloFunction"].environment == {"GREETING": "by id"}
    assert by_path.functions["ChildApp/HelloFunction"].environment == {"GREETING": "by path"}


# --- authorizers --------------------------------------------------------------------------------------------------

SECURED_DEFINITION = """
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: echo/, Handler: app.handler, Runtime: python3.13}
  Authorizer:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: echo/, Handler: app.handler, Runtime: python3.13}
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        openapi: "3.0.1"
        info: {title: secured, version: "1"}
        security: [{Jwt: [default.scope]}]
        components:
          securitySchemes:
            Jwt:
              type: oauth2
              x-amazon-apigateway-authorizer:
                type: jwt
                identitySource: $request.querystring.token
                jwtConfiguration: {issuer: "https://issuer.example.com", audience: [one, two]}
            Custom:
              type: apiKey
              name: Authorization
              in: header
              x-amazon-apigateway-authorizer:
                type: request
                identitySource: $request.header.Authorization, $request.querystring.key
                authorizerUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/\
                  ${Authorizer.Arn}/invocations"
                authorizerPayloadFormatVersion: "2.0"
                enableSimpleResponses: true
                authorizerResultTtlInSeconds: 300
            Sigv4:
              type: apiKey
              name: Authorization
              in: header
              x-amazon-apigateway-authtype: awsSigv4
        paths:
          /global:
            get:
              x-amazon-apigateway-integration: &fn {type: aws_proxy, payloadFormatVersion: "2.0", uri: !GetAtt Fn.Arn}
          /scoped:
            get: {security: [{Jwt: [items.read, items.write]}], x-amazon-apigateway-integration: *fn}
          /custom:
            get: {security: [{Custom: []}], x-amazon-apigateway-integration: *fn}
          /open:
            get: {security: [], x-amazon-apigateway-integration: *fn}
          /iam:
            get: {security: [{Sigv4: []}], x-amazon-apigateway-integration: *fn}
          /either:
            get: {security: [{Jwt: []}, {Custom: []}], x-amazon-apigateway-integration: *fn}
          /unknown:
            get: {security: [{Nobody: []}], x-amazon-apigateway-integration: *fn}
"""


def test_a_definitions_authorizers_guard_its_routes_and_what_cannot_be_enforced_is_not_served(tmp_path):
    """AWS, not sam local: a jwt authorizer in a definition guards its routes (sam local stops at it, and serves a
    CloudFormation JWT authorizer's routes open).
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authorizer.html"""
    app = write(tmp_path, SECURED_DEFINITION)

    guards = {route.path: (route.authorizer, route.scopes) for route in app.routes}
    assert guards == {
        "/global": ("Jwt", ("default.scope",)),  # the document's security, for an operation without its own
        "/scoped": ("Jwt", ("items.read", "items.write")),
        "/custom": ("Custom", ()),
        "/open": (None, ()),  # `security: []` opens it
    }
    jwt, custom = app.apis["Api"].authorizers["Jwt"], app.apis["Api"].authorizers["Custom"]
    assert (jwt.kind, jwt.identity_source, jwt.issuer, jwt.audience) == (
        "JWT",
        ("$request.querystring.token",),
        "https://issuer.example.com",
        ("one", "two"),
    )
    assert (custom.kind, custom.function, custom.payload_format, custom.simple_responses, custom.ttl_seconds) == (
        "REQUEST",
        "Authorizer",
        "2.0",
        True,
        300,
    )
    assert custom.identity_source == ("$request.header.Authorization", "$request.querystring.key")
    assert "IAM authorization (SigV4)" in warning(app, "Api GET /iam")
    assert "not one authorizer" in warning(app, "Api GET /either")
    assert "names Nobody, which is not an authorizer of Api" in warning(app, "Api GET /unknown")


def test_sams_default_authorizer_guards_the_definitions_operations_without_security_of_their_own(tmp_path):
    # SAM writes Auth.Authorizers into the definition's securitySchemes (over the same name) and DefaultAuthorizer
    # into every integrated operation whose security is empty.
    template = SECURED_DEFINITION.replace(
        "      DefinitionBody:",
        "      Auth:\n"
        "        DefaultAuthorizer: Jwt\n"
        "        Authorizers:\n"
        "          Jwt:\n"
        "            AuthorizationScopes: [sam.scope]\n"
        "            JwtConfiguration: {issuer: 'https://issuer.example.com', audience: [one, two]}\n"
        "            IdentitySource: $request.querystring.token\n"
        "      DefinitionBody:",
    )
    app = write(tmp_path, template)

    guards = {route.path: (route.authorizer, route.scopes) for route in app.routes}
    assert guards["/global"] == ("Jwt", ("sam.scope",))
    assert guards["/open"] == ("Jwt", ("sam.scope",))  # [] is "no security" to SAM, which then sets its default
    assert guards["/scoped"] == ("Jwt", ("items.read", "items.write"))


CFN_AUTHORIZERS = """
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties: {Handler: app.handler, Runtime: python3.13, Code: echo/}
  AuthFn:
    Type: AWS::Lambda::Function
    Properties: {Handler: app.handler, Runtime: python3.13, Code: echo/}
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: HTTP}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: $default, AutoDeploy: true}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt Fn.Arn
      PayloadFormatVersion: "1.0"
      TimeoutInMillis: 7000
  Custom:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      Name: custom
      AuthorizerType: REQUEST
      AuthorizerUri: !Join
        - ""
        - - "arn:aws:apigateway:"
          - !Ref "AWS::Region"
          - ":lambda:path/2015-03-31/functions/"
          - !GetAtt AuthFn.Arn
          - /invocations
      AuthorizerPayloadFormatVersion: "1.0"
      AuthorizerResultTtlInSeconds: 0
      IdentitySource: [$request.header.X-Key]
  CustomRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: ANY /{proxy+}
      Target: !Sub integrations/${Integration}
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Custom
  IamRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: GET /iam
      Target: !Sub integrations/${Integration}
      AuthorizationType: AWS_IAM
  MismatchRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: GET /jwt
      Target: !Sub integrations/${Integration}
      AuthorizationType: JWT
      AuthorizerId: !Ref Custom
"""


def test_cloudformation_authorizers_guard_their_routes_and_iam_is_refused(tmp_path):
    app = write(tmp_path, CFN_AUTHORIZERS)

    (route,) = app.routes
    assert (route.route_key, route.authorizer, route.payload_format, route.timeout_ms) == (
        "ANY /{proxy+}",
        "Custom",
        "1.0",
        7000,
    )
    custom = app.apis["Api"].authorizers["Custom"]
    assert (custom.kind, custom.function, custom.payload_format, custom.identity_source) == (
        "REQUEST",
        "AuthFn",
        "1.0",
        ("$request.header.X-Key",),
    )
    assert "IAM authorization (SigV4)" in warning(app, "IamRoute (GET /iam)")
    assert "not a JWT authorizer of Api" in warning(app, "MismatchRoute (GET /jwt)")


# --- refused out loud: each named once, with its logical id; the rest is served -------------------------------------

SERVED = """
  Served:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Runtime: python3.13
      Events:
        Ok: {Type: HttpApi, Properties: {Path: /ok, Method: GET}}
"""
HTTP_API = """
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: HTTP}
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: $default}
"""


def integration(**properties: Any) -> str:
    """An integration and a route to it, GET /refused, on the HttpApi above."""
    settings = {"ApiId": {"Ref": "Api"}, "IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "2.0", **properties}
    return (
        HTTP_API
        + f"""
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {json.dumps(settings)}
  Refused:
    Type: AWS::ApiGatewayV2::Route
    Properties: {{ApiId: !Ref Api, RouteKey: GET /refused, Target: !Sub "integrations/${{Integration}}"}}
"""
    )


def resource(logical_id: str, kind: str, **properties: Any) -> str:
    """One resource, as YAML under Resources (its properties in JSON, which is YAML)."""
    return f"  {logical_id}:\n    Type: {kind}\n    Properties: {json.dumps(properties)}\n"


def function(logical_id: str, **properties: Any) -> str:
    return resource(logical_id, "AWS::Serverless::Function", CodeUri="echo/", Handler="app.handler", **properties)


def lambda_function(logical_id: str, **properties: Any) -> str:
    return resource(logical_id, "AWS::Lambda::Function", Handler="index.handler", Runtime="python3.13", **properties)


REFUSALS = {
    "a REST API": (resource("RestApi", "AWS::Serverless::Api", StageName="prod"), "RestApi", "a REST API"),
    "a plain REST API": (resource("RestApi", "AWS::ApiGateway::RestApi", Name="rest"), "RestApi", "a REST API"),
    "an Api event": (
        function("RestFn", Events={"Get": {"Type": "Api", "Properties": {"Path": "/rest", "Method": "GET"}}}),
        "RestFn",
        "its event Get is an Api event, a REST API's route",
    ),
    "a WebSocket API": (
        resource(
            "Ws", "AWS::ApiGatewayV2::Api", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
        )
        + resource("WsRoute", "AWS::ApiGatewayV2::Route", ApiId={"Ref": "Ws"}, RouteKey="$connect"),
        "Ws",
        "a WEBSOCKET API: the dev server serves HTTP APIs only",
    ),
    "a function URL": (
        function("UrlFn", FunctionUrlConfig={"AuthType": "NONE"}),
        "UrlFn",
        "its function URL (FunctionUrlConfig) is not served",
    ),
    "a Lambda URL": (
        resource("Url", "AWS::Lambda::Url", AuthType="NONE", TargetFunctionArn={"Fn::GetAtt": ["Served", "Arn"]}),
        "Url",
        "a function URL",
    ),
    "a nested stack in S3": (
        resource("Remote", "AWS::CloudFormation::Stack", TemplateURL="https://s3.amazonaws.com/b/t.yaml"),
        "Remote",
        "a nested stack whose template is remote (https://s3.amazonaws.com/b/t.yaml)",
    ),
    "an application of the Serverless Application Repository": (
        resource(
            "Sar",
            "AWS::Serverless::Application",
            Location={"ApplicationId": "arn:aws:serverlessrepo:us-east-1:1:applications/x", "SemanticVersion": "1.0.0"},
        ),
        "Sar",
        "remote (the Serverless Application Repository)",
    ),
    "a missing nested template": (
        resource("Missing", "AWS::Serverless::Application", Location="nowhere.yaml"),
        "Missing",
        "whose template nowhere.yaml is not a file",
    ),
    "an integration URI that names no function of the template": (
        integration(IntegrationUri="arn:aws:lambda:us-east-1:123456789012:function:elsewhere"),
        "Refused (GET /refused)",
        "names the function elsewhere, which is not a function of this template",
    ),
    "an HTTP proxy integration": (
        integration(IntegrationType="HTTP_PROXY", IntegrationUri="https://example.com", IntegrationMethod="ANY"),
        "Refused (GET /refused)",
        "its integration is HTTP_PROXY: the dev server serves Lambda proxy (AWS_PROXY) integrations only",
    ),
    "an AWS service integration": (
        integration(IntegrationSubtype="SQS-SendMessage", CredentialsArn="arn:aws:iam::1:role/r"),
        "Refused (GET /refused)",
        "an AWS service integration (SQS-SendMessage)",
    ),
    "an integration without a payload format version": (
        integration(IntegrationUri={"Fn::GetAtt": ["Served", "Arn"]}, PayloadFormatVersion={"Ref": "AWS::NoValue"}),
        "Refused (GET /refused)",
        "no payload format version, which AWS requires",
    ),
    "a function named by a stage variable": (
        integration(IntegrationUri="arn:aws:lambda:us-east-1:123456789012:function:${stageVariables.fn}"),
        "Refused (GET /refused)",
        "names its function with a stage variable",
    ),
    "a route to an API of no template": (
        resource("Elsewhere", "AWS::ApiGatewayV2::Route", ApiId="abc123", RouteKey="GET /x", Target="integrations/x"),
        "Elsewhere",
        "its ApiId abc123 is not an HTTP API of this template",
    ),
    "inline code": (
        lambda_function("Inline", Code={"ZipFile": "x = 1"}),
        "Inline",
        "its code is inline (Code.ZipFile)",
    ),
    "SAM's inline code": (function("SamInline", InlineCode="x = 1"), "SamInline", "its code is inline (InlineCode)"),
    "code in S3": (lambda_function("InS3", Code={"S3Bucket": "b", "S3Key": "k.zip"}), "InS3", "its code is in S3"),
    "a container image": (
        resource("Image", "AWS::Lambda::Function", PackageType="Image", Code={"ImageUri": "repo:latest"}),
        "Image",
        "a container image function",
    ),
    "an OpenAPI definition in S3": (
        resource("S3Api", "AWS::Serverless::HttpApi", DefinitionUri={"Bucket": "b", "Key": "openapi.yaml"}),
        "S3Api",
        "its DefinitionUri is in S3",
    ),
    "a Swagger 2.0 definition": (
        resource("SwaggerApi", "AWS::Serverless::HttpApi", DefinitionBody={"swagger": "2.0", "paths": {}}),
        "SwaggerApi",
        "its definition is not OpenAPI 3",
    ),
    "a Body in S3": (
        resource("BodyApi", "AWS::ApiGatewayV2::Api", ProtocolType="HTTP", BodyS3Location={"Bucket": "b", "Key": "k"})
        + resource("BodyStage", "AWS::ApiGatewayV2::Stage", ApiId={"Ref": "BodyApi"}, StageName="$default"),
        "BodyApi",
        "its OpenAPI definition is in S3 (BodyS3Location)",
    ),
    "a second stage": (
        HTTP_API + resource("Prod", "AWS::ApiGatewayV2::Stage", ApiId={"Ref": "Api"}, StageName="prod"),
        "Prod",
        "another stage of Api: the dev server serves one stage of an API ($default)",
    ),
    "an API with no stage": (
        resource("Unstaged", "AWS::ApiGatewayV2::Api", ProtocolType="HTTP"),
        "Unstaged",
        "no AWS::ApiGatewayV2::Stage, so AWS gives it no URL: served at $default",
    ),
    "managed overrides": (
        resource("Overrides", "AWS::ApiGatewayV2::ApiGatewayManagedOverrides", ApiId="x"),
        "Overrides",
        "managed overrides of a quick-created API are not applied",
    ),
}


@pytest.mark.parametrize(("resources", "logical_id", "reason"), REFUSALS.values(), ids=list(REFUSALS))
def test_what_cannot_be_served_is_named_once_and_the_rest_is_served(tmp_path, resources, logical_id, reason):
    app = write(tmp_path, "Resources:" + SERVED + resources)

    assert reason in warning(app, logical_id)
    assert routes(app) == {"GET /ok": ("Served", "ServerlessHttpApi")}


def test_a_function_of_another_runtime_is_named_with_its_routes_and_not_loaded(tmp_path):
    app = write(
        tmp_path,
        "Resources:"
        + SERVED
        + """
  Node:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: index.handler
      Runtime: nodejs22.x
      Events:
        Get: {Type: HttpApi, Properties: {Path: /node, Method: GET}}
""",
    )

    assert "its runtime is nodejs22.x: the dev server runs Python functions only" in warning(app, "Node")
    assert "not served, as its function Node is not" in warning(app, "ServerlessHttpApi GET /node")
    assert set(app.functions) == {"Served"}
    assert routes(app) == {"GET /ok": ("Served", "ServerlessHttpApi")}


def test_a_plain_api_with_an_openapi_body_is_an_http_api_without_a_protocol_type(tmp_path):
    # Adapted from AWS SAM CLI's tests/integration/testdata/start_api/cfn-http-api-with-swagger-body.yaml.
    app = write(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties: {Handler: app.handler, Runtime: python3.13, Code: echo/}
          HTTPAPIGateway:
            Type: AWS::ApiGatewayV2::Api
            Properties:
              Body:
                openapi: "3.0"
                info: {title: body}
                x-amazon-apigateway-cors: {allowOrigins: ["https://example.com"], allowMethods: [GET], maxAge: 60}
                paths:
                  /echoeventbody:
                    get:
                      x-amazon-apigateway-integration:
                        type: aws_proxy
                        payloadFormatVersion: "2.0"
                        uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/\\
                          ${Fn.Arn}/invocations"
          Stage:
            Type: AWS::ApiGatewayV2::Stage
            Properties: {ApiId: !Ref HTTPAPIGateway, StageName: $default, AutoDeploy: true}
        """,
    )

    assert routes(app) == {"GET /echoeventbody": ("Fn", "HTTPAPIGateway")}
    assert app.apis["HTTPAPIGateway"].cors == {
        "AllowOrigins": ["https://example.com"],
        "AllowMethods": ["GET"],
        "MaxAge": 60,
    }
    assert app.warnings == ()


def test_an_include_transform_reads_its_file_and_resolves_its_intrinsics(tmp_path):
    app = write(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: echo/, Handler: app.handler, Runtime: python3.13}
          Api:
            Type: AWS::Serverless::HttpApi
            Properties:
              DefinitionBody:
                Fn::Transform:
                  Name: AWS::Include
                  Parameters: {Location: api/openapi.yaml}
        """,
        {
            "api/openapi.yaml": """
            openapi: "3.0.1"
            info: {title: included, version: "1"}
            paths:
              /included:
                post:
                  x-amazon-apigateway-integration:
                    type: aws_proxy
                    payloadFormatVersion: "2.0"
                    uri:
                      Fn::Sub: arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations
            """
        },
    )

    assert routes(app) == {"POST /included": ("Fn", "Api")}
    assert app.template_files == (tmp_path / "api" / "openapi.yaml",)


def test_a_definition_integration_wins_over_an_event_for_the_same_route_as_sam_keeps_it(tmp_path):
    """AWS, not sam local: SAM keeps the definition's integration where an HttpApi event names the same path and
    method (sam local keeps the later resource's).
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-httpapi.html"""
    app = write(
        tmp_path,
        """
        Resources:
          Defined:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: echo/, Handler: app.handler, Runtime: python3.13}
          Evented:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: echo/
              Handler: app.handler
              Runtime: python3.13
              Events:
                Same: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /same, Method: GET}}
          Api:
            Type: AWS::Serverless::HttpApi
            Properties:
              DefinitionBody:
                openapi: "3.0.1"
                paths:
                  /same:
                    get:
                      x-amazon-apigateway-integration:
                        {type: aws_proxy, payloadFormatVersion: "2.0", uri: !GetAtt Defined.Arn}
        """,
    )

    assert routes(app) == {"GET /same": ("Defined", "Api")}
    assert "whose integration (Defined) SAM keeps" in warning(app, "Evented")


def test_a_cloudformation_layer_asset_is_a_layer_of_the_functions_that_name_it(tmp_path):
    (tmp_path / "asset.layer" / "python").mkdir(parents=True)
    app = write(
        tmp_path,
        """
        Resources:
          Layer:
            Type: AWS::Lambda::LayerVersion
            Properties: {Content: {S3Bucket: b, S3Key: layer.zip}}
            Metadata: {aws:asset:path: asset.layer, aws:asset:property: Content}
          Fn:
            Type: AWS::Lambda::Function
            Properties: {Handler: app.handler, Runtime: python3.13, Code: echo/, Layers: [!Ref Layer]}
        """,
    )

    assert app.functions["Fn"].layer_dirs == [tmp_path / "asset.layer" / "python"]
    assert app.warnings == ()


def test_a_nested_stacks_tables_are_named_and_its_errors_name_the_stack(tmp_path):
    child = "Resources:\n" + resource("Table", "AWS::DynamoDB::Table", KeySchema=[], AttributeDefinitions=[]) + SERVED
    app = write(
        tmp_path,
        "Resources:\n" + resource("Child", "AWS::Serverless::Application", Location="child/template.yaml"),
        {"child/template.yaml": child, "child/echo/app.py": ECHO},
    )

    assert "a nested stack's table, which the dev server does not create" in warning(app, "Child/Table")
    assert routes(app) == {"GET /ok": ("Child/Served", "Child/ServerlessHttpApi")}
    assert app.tables == {}

    (tmp_path / "child" / "template.yaml").write_text(child + SERVED.replace("Served:", "Again:"))
    with pytest.raises(
        TemplateError, match=r"^Child \(child/template.yaml\): route 'GET /ok' is declared more than once"
    ):
        load_app(tmp_path / "template.yaml")


def test_a_nested_stack_that_includes_its_parent_is_refused(tmp_path):
    with pytest.raises(TemplateError, match="is a template that includes it"):
        write(tmp_path, "Resources:\n" + resource("Loop", "AWS::CloudFormation::Stack", TemplateURL="template.yaml"))

"""Every form a template gives its HTTP API routes in, besides SAM's HttpApi events (devserver.template):

- an OpenAPI 3 definition: an AWS::Serverless::HttpApi's DefinitionBody (inline, or an AWS::Include of a file),
  its DefinitionUri (a file), an AWS::ApiGatewayV2::Api's Body; with its authorizers and each route's security;
- plain CloudFormation, as CDK synthesizes it: AWS::ApiGatewayV2::Api, Route, Integration, Stage and Authorizer;
- a quick-created API (an AWS::ApiGatewayV2::Api with a Target).

A route the dev server cannot serve as AWS would (an integration that is not a function of the template, or not a
Lambda proxy; an authorizer it cannot enforce) is named once in App.warnings, with its logical id and the reason, and
the rest is served: a route is never dropped without a word, nor served open when AWS would guard it. Where
`sam local start-api` and AWS differ, this follows AWS, and says where. devserver.stacks reads the functions, nested
stacks and the rest.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from devserver.stacks import REMOTE, Stack
from devserver.template import (
    DEFAULT_ROUTE,
    MAX_INTEGRATION_TIMEOUT_MS,
    Api,
    Authorizer,
    Function,
    Route,
    cfn_string,
    read_template,
)

ANY_METHOD = "x-amazon-apigateway-any-method"
OPENAPI_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", ANY_METHOD)
# The function an integration URI names: `arn:aws:lambda:<region>:<account>:function:<name>[:<alias>]`, alone or
# inside `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<that ARN>/invocations`, the two forms an
# HTTP API takes: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
_FUNCTION_IN_URI = re.compile(r":function:([^:/]+)")
_ROUTE_KEY = re.compile(r"^([A-Za-z]+) (/\S*)$")


# --- what a route's integration names -------------------------------------------------------------------------------


def function_of_uri(
    stack: Stack, where: str, uri: Any, functions: dict[str, Function], literal: bool = False
) -> str | None:
    """The function (logical id) an integration's URI names, or None with the reason in the warnings. The name is the
    function's FunctionName, else its logical id, as `sam local` names it and as `Fn::GetAtt Fn.Arn` resolves."""
    if isinstance(uri, dict):
        if literal:
            # https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-httpapi.html#sam-httpapi-definitionuri
            stack.refuse(
                where,
                "its URI is an intrinsic function, which AWS does not resolve in a DefinitionUri file "
                "(use DefinitionBody, with AWS::Include for a file): not served",
            )
        else:
            stack.refuse(where, f"its URI {uri} is an intrinsic function the dev server cannot resolve: not served")
        return None
    if not isinstance(uri, str) or not uri:
        stack.refuse(where, "its integration has no URI naming a function: not served")
        return None
    if "${stageVariables." in uri:
        stack.refuse(where, f"its URI {uri} names its function with a stage variable, not resolved here: not served")
        return None
    found = _FUNCTION_IN_URI.search(uri)
    if found is None:
        stack.refuse(where, f"its URI {uri} names no Lambda function: not served")
        return None
    name = found.group(1)
    for logical_id, function in functions.items():
        if function.name == name:
            return logical_id
    if name in functions:
        return name
    stack.refuse(where, f"its URI names the function {name}, which is not a function of this template: not served")
    return None


def lambda_route(
    stack: Stack,
    where: str,
    route: tuple[str, str, str],
    integration: dict[str, Any],
    functions: dict[str, Function],
    literal: bool = False,
) -> Route | None:
    """One route (method, path, api) to a Lambda proxy integration, given the integration's settings under
    CloudFormation's names (Type, Subtype, Uri, PayloadFormatVersion, TimeoutInMillis); None, and the reason in the
    warnings, when the dev server cannot serve it as AWS would."""
    method, path, api = route
    kind = str(integration.get("Type") or "").upper()
    if kind != "AWS_PROXY":
        stack.refuse(
            where,
            f"its integration is {kind or 'of no type'}: the dev server serves Lambda proxy "
            "(AWS_PROXY) integrations only: not served",
        )
        return None
    if integration.get("Subtype"):
        stack.refuse(where, f"an AWS service integration ({integration['Subtype']}): not served")
        return None
    function = function_of_uri(stack, where, integration.get("Uri"), functions, literal)
    if function is None:
        return None
    version = integration.get("PayloadFormatVersion")
    if version is None:
        # "If you create a Lambda integration by using the AWS CLI, CloudFormation, or an SDK, you must specify a
        # payloadFormatVersion" (sam local takes 2.0):
        # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
        stack.refuse(
            where, "its integration has no payload format version, which AWS requires (1.0 or 2.0): not served"
        )
        return None
    if cfn_string(version) not in ("1.0", "2.0"):
        stack.refuse(where, f"its payload format version is {version}, not 1.0 or 2.0: not served")
        return None
    timeout = integration.get("TimeoutInMillis", MAX_INTEGRATION_TIMEOUT_MS)
    timeout_ms = int(timeout) if str(timeout).isdigit() else -1
    if not 50 <= timeout_ms <= MAX_INTEGRATION_TIMEOUT_MS:
        stack.refuse(where, f"its TimeoutInMillis is {timeout}, outside HTTP API's 50..30000: not served")
        return None
    return Route(method, path, function, api, timeout_ms, cfn_string(version))


def jwt_authorizer(stack: Stack, where: str, name: str, config: dict[str, Any]) -> Authorizer | None:
    """`config`: IdentitySource (a list), Issuer, Audience. The token comes from the Authorization header unless
    IdentitySource says otherwise, as SAM's OAuth2Authorizer defaults it."""
    issuer = config.get("Issuer")
    if not isinstance(issuer, str) or not issuer:
        stack.refuse(where, "a JWT authorizer with no issuer: the routes it guards are not served")
        return None
    audience = config.get("Audience") or []
    return Authorizer(
        name,
        "JWT",
        tuple(config.get("IdentitySource") or ["$request.header.Authorization"]),
        issuer=issuer,
        audience=tuple(audience if isinstance(audience, list) else [audience]),
    )


def lambda_authorizer(
    stack: Stack, where: str, name: str, config: dict[str, Any], functions: dict[str, Function], literal: bool = False
) -> Authorizer | None:
    """`config`: IdentitySource (a list), Uri, PayloadFormatVersion, SimpleResponses, Ttl, under CloudFormation's
    rules: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html"""
    function = function_of_uri(stack, where, config.get("Uri"), functions, literal)
    if function is None:
        return None
    version = cfn_string(config.get("PayloadFormatVersion"))
    if version not in ("1.0", "2.0"):
        stack.refuse(
            where,
            f"its payload format version is {config.get('PayloadFormatVersion')}, and an HTTP API's "
            "Lambda authorizer needs 1.0 or 2.0: the routes it guards are not served",
        )
        return None
    simple = cfn_string(config.get("SimpleResponses", False)) == "true"
    if simple and version != "2.0":
        stack.refuse(where, "simple responses need payload format 2.0: the routes it guards are not served")
        return None
    ttl = config.get("Ttl", 0)
    identity = tuple(config.get("IdentitySource") or ())
    if not str(ttl).isdigit() or int(ttl) > 3600:
        stack.refuse(where, f"its result TTL is {ttl}, outside 0..3600 seconds: the routes it guards are not served")
        return None
    if int(ttl) and not identity:
        stack.refuse(where, "caching (a TTL) needs an identity source: the routes it guards are not served")
        return None
    return Authorizer(
        name,
        "REQUEST",
        identity,
        function=function,
        payload_format=version,
        simple_responses=simple,
        ttl_seconds=int(ttl),
    )


# --- OpenAPI definitions ------------------------------------------------------------------------------------------
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-open-api.html, with API Gateway's extensions:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html


@dataclass(frozen=True)
class Definition:
    """An OpenAPI document for one API; `literal`: read from a DefinitionUri file, where AWS resolves no
    intrinsic function."""

    api: str
    document: dict[str, Any]
    literal: bool = False


def read_document(stack: Stack, where: str, path: Path, what: str) -> dict[str, Any] | None:
    if not path.is_file():
        stack.refuse(where, f"its {what} {path} is not a file: none of its routes is served")
        return None
    stack.files.append(path)
    try:
        document = read_template(path)  # YAML or JSON; CloudFormation's short tags read as their long form
    except yaml.YAMLError as error:
        problem = str(error).splitlines()[0]
        stack.refuse(where, f"its {what} {path} is not YAML or JSON ({problem}): none of its routes is served")
        return None
    if not isinstance(document, dict):
        stack.refuse(where, f"its {what} {path} is not an OpenAPI document: none of its routes is served")
        return None
    return document


def http_api_definition(stack: Stack, api: str, properties: dict[str, Any]) -> Definition | None:
    """An AWS::Serverless::HttpApi's OpenAPI document: DefinitionBody (inline, or AWS::Include's file, which
    CloudFormation inlines before resolving its intrinsics), else DefinitionUri's file (whose intrinsics AWS leaves
    as they are). https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-httpapi.html"""
    if "DefinitionBody" in properties:
        body = properties["DefinitionBody"]
        include = body.get("Fn::Transform") if isinstance(body, dict) and len(body) == 1 else None
        if isinstance(include, dict) and include.get("Name") == "AWS::Include":
            location = (include.get("Parameters") or {}).get("Location")
            if not isinstance(location, str) or REMOTE.match(location):
                stack.refuse(
                    api, f"its DefinitionBody includes {location}, not a local file: its routes are not served"
                )
                return None
            document = read_document(stack, api, stack.root / location, "AWS::Include file")
            return Definition(api, stack.resolver.resolve(document)) if document is not None else None
        if not isinstance(body, dict):
            stack.refuse(api, "its DefinitionBody is not an OpenAPI document (a mapping): none of its routes is served")
            return None
        return Definition(api, body)
    uri = properties.get("DefinitionUri")
    if uri is None:
        return None
    if not isinstance(uri, str) or REMOTE.match(uri):
        stack.refuse(
            api, f"its DefinitionUri is in S3 ({uri}), which the dev server does not read: none of its routes is served"
        )
        return None
    document = read_document(stack, api, stack.root / uri, "DefinitionUri")
    return Definition(api, document, literal=True) if document is not None else None


def openapi_cors(document: dict[str, Any]) -> dict[str, Any] | None:
    """x-amazon-apigateway-cors, under CorsConfiguration's names."""
    cors = document.get("x-amazon-apigateway-cors")
    if not isinstance(cors, dict):
        return None
    return {key[0].upper() + key[1:]: value for key, value in cors.items()}


def openapi_authorizers(stack: Stack, definition: Definition, functions: dict[str, Function]) -> dict[str, Authorizer]:
    """components.securitySchemes with x-amazon-apigateway-authorizer, by name:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authorizer.html"""
    schemes = (definition.document.get("components") or {}).get("securitySchemes") or {}
    found = {}
    for name, scheme in schemes.items():
        config = scheme.get("x-amazon-apigateway-authorizer") if isinstance(scheme, dict) else None
        if not isinstance(config, dict):
            continue  # not API Gateway's (or IAM's): refused by the routes that name it
        where = f"{definition.api} authorizer {name}"
        kind = str(config.get("type", "")).lower()
        # identitySource is one comma-separated string in OpenAPI, a list in CloudFormation.
        identity = [part.strip() for part in str(config.get("identitySource") or "").split(",") if part.strip()]
        authorizer: Authorizer | None
        if kind == "jwt":
            jwt = config.get("jwtConfiguration") or {}
            authorizer = jwt_authorizer(
                stack,
                where,
                name,
                {"IdentitySource": identity, "Issuer": jwt.get("issuer"), "Audience": jwt.get("audience")},
            )
        elif kind == "request":
            settings = {
                "IdentitySource": identity,
                "Uri": config.get("authorizerUri"),
                "PayloadFormatVersion": config.get("authorizerPayloadFormatVersion"),
                "SimpleResponses": config.get("enableSimpleResponses", False),
                "Ttl": config.get("authorizerResultTtlInSeconds", 0),
            }
            authorizer = lambda_authorizer(stack, where, name, settings, functions, definition.literal)
        else:
            stack.refuse(
                where,
                f"of type {kind or 'none'}: an HTTP API's authorizer is jwt or request (token is a "
                "REST API's): the routes it guards are not served",
            )
            authorizer = None
        if authorizer is not None:
            found[name] = authorizer
    return found


@dataclass(frozen=True)
class Guard:
    """The authorizer a route names (None: open) and the scopes it requires."""

    authorizer: str | None = None
    scopes: tuple[str, ...] = ()


def guard(stack: Stack, where: str, security: Any, api: Api, schemes: dict[str, Any]) -> Guard | None:
    """An operation's security requirement as the route's authorizer, or None (with the reason) when the dev server
    cannot enforce it, so the route is not served rather than served open. API Gateway takes one authorizer per
    route: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-access-control.html"""
    if not security or security == [{}]:
        return Guard()
    if (
        not isinstance(security, list)
        or len(security) != 1
        or not isinstance(security[0], dict)
        or len(security[0]) != 1
    ):
        stack.refuse(where, f"its security {security} is not one authorizer, as API Gateway takes it: not served")
        return None
    ((name, scopes),) = security[0].items()
    if name == "NONE":  # SAM's `Authorizer: NONE`
        return Guard()
    scheme = schemes.get(name) or {}
    if name == "AWS_IAM" or (isinstance(scheme, dict) and scheme.get("x-amazon-apigateway-authtype") == "awsSigv4"):
        stack.refuse(where, "IAM authorization (SigV4), which the dev server does not check: not served")
        return None
    if name not in api.authorizers:
        stack.refuse(
            where,
            f"its security names {name}, which is not an authorizer of {api.logical_id} the dev "
            "server can enforce: not served",
        )
        return None
    return Guard(name, tuple(str(scope) for scope in scopes or ()))


@dataclass
class Operations:
    """A definition's routes, and the operations it declares without an integration (SAM gives one to an operation
    an HttpApi event names), with their security."""

    routes: list[Route] = field(default_factory=list)
    bare: dict[tuple[str, str], tuple[str, Any]] = field(default_factory=dict)  # (method, path) -> (where, security)


def openapi_routes(
    stack: Stack,
    definition: Definition,
    api: Api,
    functions: dict[str, Function],
    default: tuple[str, list[str]] | None,
) -> Operations:
    """Each path and method of the definition with an x-amazon-apigateway-integration; `default`: SAM's
    Auth.DefaultAuthorizer and its scopes, which SAM writes into every integrated operation without a security of
    its own (`set_path_default_authorizer` in SAM's OpenApiEditor)."""
    document = definition.document
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    found = Operations()
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for key, operation in item.items():
            if str(key).lower() not in OPENAPI_METHODS or not isinstance(operation, dict):
                continue  # parameters, summary, servers...
            method = "ANY" if str(key).lower() == ANY_METHOD else str(key).upper()
            where = f"{definition.api} {DEFAULT_ROUTE if path == DEFAULT_ROUTE else f'{method} {path}'}"
            if path != DEFAULT_ROUTE and not str(path).startswith("/"):
                stack.refuse(where, "a path must start with / (or be $default): not served")
                continue
            own = operation.get("security")
            security = [{default[0]: default[1]}] if default and not own else own
            if security is None:
                security = document.get("security")  # the document's, unless the operation has its own
            integration = operation.get("x-amazon-apigateway-integration")
            if not isinstance(integration, dict):
                found.bare[(method, path)] = (where, own if own is not None else document.get("security"))
                continue
            route = lambda_route(
                stack,
                where,
                (method, path, definition.api),
                {
                    "Type": integration.get("type"),
                    "Subtype": integration.get("integrationSubtype"),
                    "Uri": integration.get("uri"),
                    "PayloadFormatVersion": integration.get("payloadFormatVersion"),
                    "TimeoutInMillis": integration.get("timeoutInMillis", MAX_INTEGRATION_TIMEOUT_MS),
                },
                functions,
                definition.literal,
            )
            guarded = guard(stack, where, security, api, schemes) if route is not None else None
            if route is not None and guarded is not None:
                found.routes.append(dataclasses.replace(route, authorizer=guarded.authorizer, scopes=guarded.scopes))
    return found


def sam_default_authorizer(properties: dict[str, Any]) -> tuple[str, list[str]] | None:
    """An AWS::Serverless::HttpApi's Auth.DefaultAuthorizer and the AuthorizationScopes its authorizer declares."""
    auth = properties.get("Auth") or {}
    name = auth.get("DefaultAuthorizer")
    if not isinstance(name, str) or not name:
        return None
    declared = (auth.get("Authorizers") or {}).get(name) or {}
    return name, list(declared.get("AuthorizationScopes") or []) if isinstance(declared, dict) else []


def definition_routes(
    stack: Stack, apis: dict[str, Api], event_routes: list[Route], functions: dict[str, Function]
) -> list[Route]:
    """The routes of AWS::Serverless::HttpApi resources with an OpenAPI definition, merged with the HttpApi events
    that name them as SAM merges them: an event adds its route to a DefinitionBody, except where the definition
    already integrates that path and method (SAM keeps the definition's), and adds nothing to a DefinitionUri file,
    which SAM does not edit (`HttpApi._add_openapi_integration` in SAM's eventsources/push.py). `sam local` serves
    both. https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-httpapi.html"""
    routes = list(event_routes)
    for logical_id, resource in stack.resources("AWS::Serverless::HttpApi"):
        properties = stack.properties(resource)
        definition = http_api_definition(stack, logical_id, properties)
        if definition is None:
            if "DefinitionUri" in properties:
                routes = drop_events(stack, routes, logical_id)
            continue
        if not str(definition.document.get("openapi", "")).startswith("3"):
            stack.refuse(
                logical_id, "its definition is not OpenAPI 3, which an HTTP API takes: its routes are not served"
            )
            continue
        api = apis[logical_id]
        authorizers = openapi_authorizers(stack, definition, functions)
        # SAM writes its Auth.Authorizers into the definition's securitySchemes, over any of the same name.
        api = apis[logical_id] = dataclasses.replace(
            api, cors=api.cors or openapi_cors(definition.document), authorizers={**authorizers, **api.authorizers}
        )
        operations = openapi_routes(stack, definition, api, functions, sam_default_authorizer(properties))
        if definition.literal:
            routes = drop_events(stack, routes, logical_id)
        integrated = {(route.method, route.path): route.function for route in operations.routes}
        merged = []
        for route in routes:
            key = (route.method, route.path)
            if route.api != logical_id:
                merged.append(route)
            elif key in integrated:
                stack.refuse(
                    route.function,
                    f"its HttpApi event {route.route_key} is also in {logical_id}'s definition,"
                    f" whose integration ({integrated[key]}) SAM keeps: served by {integrated[key]}",
                )
            elif key in operations.bare:
                where, security = operations.bare.pop(key)
                # The definition's own security for the operation stays, unless the event's Auth gives one.
                guarded = (
                    Guard(route.authorizer, route.scopes)
                    if route.authorizer
                    else guard(
                        stack,
                        where,
                        security,
                        api,
                        (definition.document.get("components") or {}).get("securitySchemes") or {},
                    )
                )
                if guarded is not None:
                    merged.append(dataclasses.replace(route, authorizer=guarded.authorizer, scopes=guarded.scopes))
            else:
                merged.append(route)
        for where, _ in operations.bare.values():
            stack.refuse(
                where, "declared with no x-amazon-apigateway-integration, and no HttpApi event gives it one: not served"
            )
        routes = merged + operations.routes
    return routes


def drop_events(stack: Stack, routes: list[Route], api: str) -> list[Route]:
    kept = []
    for route in routes:
        if route.api == api:
            stack.refuse(
                route.function,
                f"its HttpApi event {route.route_key} names {api}, whose definition is a "
                "DefinitionUri file, which SAM adds no event to, so AWS serves no such route: not served",
            )
        else:
            kept.append(route)
    return kept


# --- plain CloudFormation: AWS::ApiGatewayV2::* --------------------------------------------------------------------
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/AWS_ApiGatewayV2.html


def parse_route_key(key: Any) -> tuple[str, str] | None:
    """`GET /items/{id}`, `ANY /{proxy+}` or `$default`:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html"""
    if key == DEFAULT_ROUTE:
        return "ANY", DEFAULT_ROUTE
    found = _ROUTE_KEY.match(str(key))
    return (found.group(1).upper(), found.group(2)) if found else None


def cfn_stages(stack: Stack, http_apis: dict[str, dict[str, Any]]) -> dict[str, tuple[str, dict[str, str]]]:
    """Each API's stage (name, variables): its `$default` stage if it has one, else its first; the dev server serves
    one stage per API and names the others. A quick-created API has the `$default` stage AWS creates for it."""
    found: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
    for logical_id, resource in stack.resources("AWS::ApiGatewayV2::Stage"):
        properties = stack.properties(resource)
        if properties.get("ApiId") in http_apis:
            name = str(properties.get("StageName") or DEFAULT_ROUTE)
            # StageVariables, as AWS::ApiGatewayV2::Stage names them (sam local reads `Variables`, a REST stage's).
            variables = {key: cfn_string(value) for key, value in (properties.get("StageVariables") or {}).items()}
            found.setdefault(properties["ApiId"], []).append((logical_id, name, variables))
    stages = {}
    for api, candidates in found.items():
        chosen = next((stage for stage in candidates if stage[1] == DEFAULT_ROUTE), candidates[0])
        for stage in candidates:
            if stage is not chosen:
                stack.refuse(
                    stage[0],
                    f"another stage of {api}: the dev server serves one stage of an API ({chosen[1]}): not served",
                )
        stages[api] = (chosen[1], chosen[2])
    for api, properties in http_apis.items():
        if api not in stages and "Target" not in properties:
            stack.refuse(api, "it has no AWS::ApiGatewayV2::Stage, so AWS gives it no URL: served at $default")
    return stages


def cfn_authorizers(
    stack: Stack, http_apis: dict[str, dict[str, Any]], functions: dict[str, Function]
) -> dict[str, dict[str, Authorizer]]:
    """AWS::ApiGatewayV2::Authorizer resources, by API, each named by its logical id (a route's AuthorizerId)."""
    found: dict[str, dict[str, Authorizer]] = {api: {} for api in http_apis}
    for logical_id, resource in stack.resources("AWS::ApiGatewayV2::Authorizer"):
        properties = stack.properties(resource)
        api = properties.get("ApiId")
        if api not in http_apis:
            continue
        identity = properties.get("IdentitySource") or []
        identity = identity if isinstance(identity, list) else [identity]
        kind = str(properties.get("AuthorizerType", "")).upper()
        authorizer: Authorizer | None
        if kind == "JWT":
            jwt = properties.get("JwtConfiguration") or {}
            authorizer = jwt_authorizer(stack, logical_id, logical_id, {**jwt, "IdentitySource": identity})
        elif kind == "REQUEST":
            settings = {
                "IdentitySource": identity,
                "Uri": properties.get("AuthorizerUri"),
                "PayloadFormatVersion": properties.get("AuthorizerPayloadFormatVersion"),
                "SimpleResponses": properties.get("EnableSimpleResponses", False),
                "Ttl": properties.get("AuthorizerResultTtlInSeconds", 0),
            }
            authorizer = lambda_authorizer(stack, logical_id, logical_id, settings, functions)
        else:
            stack.refuse(
                logical_id,
                f"an authorizer of type {kind or 'none'}: an HTTP API's is JWT or REQUEST: the "
                "routes it guards are not served",
            )
            authorizer = None
        if authorizer is not None:
            found[api][logical_id] = authorizer
    return found


def cloudformation_routes(stack: Stack, apis: dict[str, Api], functions: dict[str, Function]) -> list[Route]:
    """AWS::ApiGatewayV2::Api resources of protocol HTTP (added to `apis`) and their routes: Route resources with an
    Integration, an inline Body (OpenAPI), or quick create's Target."""
    http_apis: dict[str, dict[str, Any]] = {}
    others = set()
    for logical_id, resource in stack.resources("AWS::ApiGatewayV2::Api"):
        properties = stack.properties(resource)
        # ProtocolType is "Required unless you specify an OpenAPI definition for Body or S3BodyLocation", which makes
        # an HTTP API: https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigatewayv2-api.html
        openapi = "Body" in properties or "BodyS3Location" in properties
        if properties.get("ProtocolType", "HTTP" if openapi else None) == "HTTP":
            http_apis[logical_id] = properties
        else:
            others.add(logical_id)
            stack.refuse(
                logical_id,
                f"a {properties.get('ProtocolType') or 'protocol-less'} API: the dev server "
                "serves HTTP APIs only: none of its routes is served",
            )
    stages = cfn_stages(stack, http_apis)
    authorizers = cfn_authorizers(stack, http_apis, functions)
    routes: list[Route] = []
    for logical_id, properties in http_apis.items():
        stage, variables = stages.get(logical_id, (DEFAULT_ROUTE, {}))
        api = apis[logical_id] = Api(
            logical_id, properties.get("CorsConfiguration") or None, stage, variables, authorizers[logical_id]
        )
        if "BodyS3Location" in properties:
            stack.refuse(
                logical_id,
                "its OpenAPI definition is in S3 (BodyS3Location), which the dev server does not "
                "read: its routes are not served",
            )
        if isinstance(properties.get("Body"), dict):
            definition = Definition(logical_id, properties["Body"])
            api = apis[logical_id] = dataclasses.replace(
                api,
                cors=api.cors or openapi_cors(definition.document),
                authorizers={**openapi_authorizers(stack, definition, functions), **api.authorizers},
            )
            routes += openapi_routes(stack, definition, api, functions, None).routes
        if "Target" in properties:
            routes += quick_create_route(stack, logical_id, properties, functions)
    integrations = {
        logical_id: stack.properties(resource)
        for logical_id, resource in stack.resources("AWS::ApiGatewayV2::Integration")
    }
    for logical_id, resource in stack.resources("AWS::ApiGatewayV2::Route"):
        properties = stack.properties(resource)
        if properties.get("ApiId") in others:
            continue  # named with its API
        route = cfn_route(stack, logical_id, properties, apis, http_apis, integrations, functions)
        if route is not None:
            routes.append(route)
    return routes


def quick_create_route(
    stack: Stack, api: str, properties: dict[str, Any], functions: dict[str, Function]
) -> list[Route]:
    """Quick create: "an API with an integration, a default catch-all route, and a default stage which is configured
    to automatically deploy changes"; RouteKey, if given, replaces `$default`:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-apigatewayv2-api.html
    A Lambda target is an AWS_PROXY integration; its payload format is 2.0, the latest, as sam local takes it."""
    parsed = parse_route_key(properties.get("RouteKey", DEFAULT_ROUTE))
    if parsed is None:
        stack.refuse(api, f"its RouteKey {properties.get('RouteKey')!r} is not 'METHOD /path' or $default: not served")
        return []
    integration = {"Type": "AWS_PROXY", "Uri": properties["Target"], "PayloadFormatVersion": "2.0"}
    route = lambda_route(stack, f"{api} (quick create)", (*parsed, api), integration, functions)
    return [route] if route is not None else []


def cfn_route(
    stack: Stack,
    logical_id: str,
    properties: dict[str, Any],
    apis: dict[str, Api],
    http_apis: dict[str, dict[str, Any]],
    integrations: dict[str, dict[str, Any]],
    functions: dict[str, Function],
) -> Route | None:
    """An AWS::ApiGatewayV2::Route: its RouteKey, its Target (`integrations/<IntegrationId>`), its authorization
    (AuthorizationType NONE, JWT or CUSTOM with an AuthorizerId; AWS_IAM is refused)."""
    api = properties.get("ApiId")
    if api not in http_apis:
        stack.refuse(logical_id, f"its ApiId {api} is not an HTTP API of this template: not served")
        return None
    parsed = parse_route_key(properties.get("RouteKey"))
    where = f"{logical_id} ({properties.get('RouteKey')})"
    if parsed is None:
        stack.refuse(where, "its RouteKey is not 'METHOD /path' or $default: not served")
        return None
    target = properties.get("Target")
    integration_id = target.removeprefix("integrations/") if isinstance(target, str) else None
    if not isinstance(target, str) or not target.startswith("integrations/") or integration_id not in integrations:
        stack.refuse(
            where,
            f"its Target {target} is not integrations/<an AWS::ApiGatewayV2::Integration of this template>: not served",
        )
        return None
    integration = integrations[str(integration_id)]
    route = lambda_route(
        stack,
        where,
        (*parsed, api),
        {
            "Type": integration.get("IntegrationType"),
            "Subtype": integration.get("IntegrationSubtype"),
            "Uri": integration.get("IntegrationUri"),
            "PayloadFormatVersion": integration.get("PayloadFormatVersion"),
            "TimeoutInMillis": integration.get("TimeoutInMillis", MAX_INTEGRATION_TIMEOUT_MS),
        },
        functions,
    )
    if route is None:
        return None
    kind = str(properties.get("AuthorizationType") or "NONE").upper()
    if kind == "NONE":
        return route
    if kind == "AWS_IAM":
        stack.refuse(where, "IAM authorization (SigV4), which the dev server does not check: not served")
        return None
    authorizer = apis[api].authorizers.get(str(properties.get("AuthorizerId")))
    if authorizer is None or authorizer.kind != {"JWT": "JWT", "CUSTOM": "REQUEST"}.get(kind):
        stack.refuse(
            where,
            f"its {kind} authorization names the authorizer {properties.get('AuthorizerId')}, not "
            f"a {kind} authorizer of {api} the dev server can enforce: not served",
        )
        return None
    scopes = tuple(str(scope) for scope in properties.get("AuthorizationScopes") or ())
    return dataclasses.replace(route, authorizer=authorizer.name, scopes=scopes)

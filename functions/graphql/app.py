"""POST and GET /api/graphql: GraphQL over HTTP beside the REST API, on the same repositories, auth and limits.

The HTTP side follows the GraphQL-over-HTTP specification (https://graphql.github.io/graphql-over-http/draft/):
POST a JSON `{query, variables, operationName, extensions}`, or GET with those as query parameters (queries only:
a mutation by GET is a 405). An `Accept` naming `application/graphql-response+json` gets that media type, and a
request that cannot run (it does not parse, fails validation or a limit, or its variables do not fit) is then a
400; with `application/json` (or no Accept) every GraphQL answer is a 200, as older clients expect. A request that
is not GraphQL at all (not JSON, too large, a bad token) is answered as every other route answers it:
problem+json with its 4xx status.

The bearer token is optional: without one, the fields that need a user answer UNAUTHENTICATED errors; a token that
is sent and invalid is a 401 for the whole request, as on REST. Rate limiting and logs are the layer's.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Annotated, Any

import ide
import protection
from aws_lambda_powertools.event_handler import Response
from graphql import (
    ExecutionResult,
    GraphQLError,
    OperationType,
    execute_sync,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)
from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError
from resolvers import Context, build_schema

from apikit import aws
from apikit.app import create_app, make_handler
from apikit.auth import Principal
from apikit.errors import ApiError, BadRequest, MethodNotAllowed, NotAcceptable
from apikit.logging import logger
from apikit.metrics import unhandled_error
from apikit.negotiation import quality
from apikit.routes import BEARER_AUTH, route
from apikit.validation import MULTILINE, loads_json, validate_request, validation_errors

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
# The GraphQL error code of each layer error a resolver raises (Apollo's names, which clients know).
CODES = {
    HTTPStatus.BAD_REQUEST: "BAD_USER_INPUT",
    HTTPStatus.UNPROCESSABLE_ENTITY: "BAD_USER_INPUT",
    HTTPStatus.UNAUTHORIZED: "UNAUTHENTICATED",
    HTTPStatus.FORBIDDEN: "FORBIDDEN",
    HTTPStatus.NOT_FOUND: "NOT_FOUND",
    HTTPStatus.CONFLICT: "CONFLICT",
    HTTPStatus.PRECONDITION_FAILED: "CONFLICT",  # ifMatch names a version the post no longer has
}

app = create_app()
schema = build_schema()


class GraphqlRequest(BaseModel):
    """The body of a POST, and the parameters of a GET once `variables` and `extensions` are read as JSON."""

    model_config = ConfigDict(
        strict=True,
        json_schema_extra={"examples": [{"query": "query($n: Int) { posts(first: $n) { nodes { id title } } }"}]},
    )
    query: Annotated[str, MULTILINE] | None = None  # a document in lines, indented with tabs or spaces
    variables: dict[str, JsonValue] | None = None
    operationName: str | None = None  # the specification's name
    extensions: dict[str, JsonValue] | None = None


class GraphqlParameters(BaseModel):
    """A GET's query string: `variables` and `extensions` are JSON text, as the specification encodes them."""

    model_config = ConfigDict(extra="forbid")
    query: Annotated[str, MULTILINE] | None = None
    variables: str | None = None
    operationName: str | None = None
    extensions: str | None = None


RESPONSE_SCHEMA = {
    "type": "object",
    "description": "A GraphQL response: `data`, and `errors` each with `extensions.code`.",
    "properties": {"data": {"type": ["object", "null"]}, "errors": {"type": "array", "items": {"type": "object"}}},
}
DECLARATION: dict[str, Any] = {
    "security": BEARER_AUTH,
    "security_optional": True,
    "response": RESPONSE_SCHEMA,
    "tag": "graphql",
}


@route(
    app,
    "POST",
    "/api/graphql",
    summary="Run a GraphQL query or mutation (schema: docs/schema.graphql)",
    body=GraphqlRequest,
    errors=(HTTPStatus.NOT_ACCEPTABLE,),
    **DECLARATION,
)
def graphql_post(user: Principal | None, body: GraphqlRequest) -> Response[str | bytes]:
    return answer(body, user, mutations_allowed=True)


@route(
    app,
    "GET",
    "/api/graphql",
    summary="Run a GraphQL query (no mutation); GraphiQL for a browser, in dev",
    query=GraphqlParameters,
    errors=(HTTPStatus.METHOD_NOT_ALLOWED, HTTPStatus.NOT_ACCEPTABLE),
    **DECLARATION,
)
def graphql_get(user: Principal | None, query: GraphqlParameters) -> Response[str | bytes]:
    event = app.current_event
    if query.query is None and ide.enabled() and ide.wants_ide(event):
        return ide.page(event)
    try:
        request = validate_request(
            GraphqlRequest,
            {
                "query": query.query,
                "operationName": query.operationName,
                "variables": json_parameter("variables", query.variables),
                "extensions": json_parameter("extensions", query.extensions),
            },
        )
    except ValidationError as error:
        raise BadRequest("The query string is invalid.", errors=validation_errors(error, "query")) from error
    return answer(request, user, mutations_allowed=False)


def json_parameter(name: str, text: str | None) -> Any:
    return None if text is None else loads_json(text.encode(), f"The `{name}` parameter")


@route(
    app,
    "GET",
    "/api/graphql/ide/{asset}",
    summary="GraphiQL's files (dev only by default)",
    errors=(HTTPStatus.NOT_FOUND,),
    tag="graphql",
)
def graphql_ide_asset(asset: str) -> Response[str | bytes]:
    return ide.asset(asset, app.current_event)


def media_type(accept: str | None) -> str:
    """The response's media type for this Accept header, by the specification's rules: graphql-response+json when
    the client prefers it, else JSON (also for no Accept at all); 406 when the client takes neither."""
    if not accept:
        return JSON
    graphql, plain = quality(accept, GRAPHQL_RESPONSE), quality(accept, JSON)
    if max(graphql, plain) <= 0:
        raise NotAcceptable(f"This endpoint answers {GRAPHQL_RESPONSE} or {JSON}.")
    # A tie goes to graphql-response+json only when the client names it: `*/*` may be an older client's.
    if graphql > plain or (graphql == plain and GRAPHQL_RESPONSE in accept.lower()):
        return GRAPHQL_RESPONSE
    return JSON


def answer(request: GraphqlRequest, user: Principal | None, *, mutations_allowed: bool) -> Response[str | bytes]:
    chosen = media_type(app.current_event.headers.get("accept"))
    result, ran = run(request, user, mutations_allowed)
    # graphql-response+json: a request that never ran is a 400; application/json: always 200 (the specification).
    status = HTTPStatus.OK if ran or chosen == JSON else HTTPStatus.BAD_REQUEST
    body = json.dumps(result, separators=(",", ":"), ensure_ascii=False)
    # The media type follows Accept, and GET /api/graphql answers a browser with GraphiQL: caches must key on it.
    return Response(status_code=status, content_type=chosen, body=body, headers={"Vary": "Accept"})


def run(request: GraphqlRequest, user: Principal | None, mutations_allowed: bool) -> tuple[dict[str, Any], bool]:
    """The GraphQL response, and whether the operation ran (False: refused before execution, with no `data`)."""
    try:
        text = protection.query_text(request.query, request.extensions)
        document = parse(text, max_tokens=protection.MAX_TOKENS)
    except protection.Refused as refused:
        return refusal(str(refused), refused.code), False
    except GraphQLError as error:
        return {"errors": [error_entry(error, "GRAPHQL_PARSE_FAILED")]}, False
    # The field count first, as the standard rules' cost grows with it; depth and cost once the document is valid
    # (ariadne's cost rule would recurse forever on a fragment cycle, which a standard rule refuses).
    errors = (
        validate(schema, document, [protection.FieldLimit])
        or validate(schema, document, specified_rules)
        or validate(schema, document, protection.rules(request.variables))
    )
    if errors:
        return {"errors": [error_entry(error, "GRAPHQL_VALIDATION_FAILED") for error in errors]}, False
    operation = get_operation_ast(document, request.operationName)
    if operation is not None and operation.operation != OperationType.QUERY and not mutations_allowed:
        raise MethodNotAllowed(["POST"])  # GET never changes anything (the specification, and RFC 9110)
    if operation is not None:
        logger.append_keys(graphql_operation=operation.name.value if operation.name else operation.operation.value)
    result = execute_sync(
        schema,
        document,
        variable_values=request.variables,
        operation_name=request.operationName,
        context_value=Context(user),
    )
    return formatted(result)


def formatted(result: ExecutionResult) -> tuple[dict[str, Any], bool]:
    errors = result.errors or []
    # Variables that do not fit, or an unknown operationName: the operation never started (no error has a path).
    if result.data is None and errors and all(error.path is None for error in errors):
        return {"errors": [error_entry(error, "BAD_USER_INPUT") for error in errors]}, False
    response: dict[str, Any] = {"data": result.data}
    if errors:
        response["errors"] = [error_entry(error, "INTERNAL_SERVER_ERROR") for error in errors]
        logger.info("graphql errors", extra={"codes": [entry["extensions"]["code"] for entry in response["errors"]]})
    return response, True


def refusal(message: str, code: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def error_entry(error: GraphQLError, code: str) -> dict[str, Any]:
    """A GraphQL error as the client sees it: the layer's message and a code; never a stack trace."""
    entry = error.formatted
    original = error.original_error
    # graphql-core's own (a syntax, validation or variables error), or one a validation rule raised inside it.
    if original is None or isinstance(original, GraphQLError):
        return {**entry, "extensions": {"code": code}}
    if not isinstance(original, ApiError):
        refused = aws.unavailable(original)  # a throttle or an AWS fault keeps its meaning: "not now"
        if refused is None:
            logger.exception("unhandled error in a resolver", exc_info=original)
            unhandled_error(app.lambda_context.function_name, type(original).__name__)
            return {**entry, "message": "An unexpected error occurred.", "extensions": {"code": code}}
        original = refused
    extensions = {"code": CODES.get(original.status, original.status.name), **original.extra()}
    return {**entry, "message": original.detail, "extensions": extensions}


lambda_handler = make_handler(app)

"""Build time only: OpenAPI 3.1 paths and components for the routes a function declared with `apikit.routes`.

`scripts/openapi.py` imports each function in its own Lambda-shaped process, calls `describe()` there, and
merges the results into docs/openapi.json. JSON schemas come from pydantic itself.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from apikit.ratelimit import fails_closed, function_limit
from apikit.responses import PROBLEM_JSON
from apikit.routes import Route
from apikit.validation import NO_CONTROL_PATTERN

REF = "#/components/schemas/{model}"


class ValidationErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: `query`, `body`, `path` or `header`, then the field names.")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details; validation failures (400, 422) add `errors`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Unprocessable Content",
                    "status": 422,
                    "detail": "The request body is invalid.",
                    "instance": "/api/posts",
                    "errors": [{"loc": ["body", "title"], "msg": "Field required", "type": "missing"}],
                }
            ]
        }
    )
    type: str = Field(description="`about:blank`: the status says it all.")
    title: str
    status: int
    detail: str
    instance: str = Field(description="The request path.")
    errors: list[ValidationErrorItem] | None = None


# What each header means on every operation that can send it.
_ERROR_HEADERS = {
    HTTPStatus.UNAUTHORIZED: {"WWW-Authenticate": '`Bearer`, with `error="invalid_token"` when a token was refused.'},
    HTTPStatus.METHOD_NOT_ALLOWED: {"Allow": "The methods this path serves."},
    HTTPStatus.TOO_MANY_REQUESTS: {"Retry-After": "Seconds to wait."},
    HTTPStatus.SERVICE_UNAVAILABLE: {"Retry-After": "Seconds to wait."},
}
REQUEST_ID = {"X-Request-Id": "API Gateway's request id: quote it when reporting a problem."}
# draft-ietf-httpapi-ratelimit-headers-06, on every answer of a rate-limited route (see apikit.ratelimit).
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": (
        "Requests allowed in the current window. The rate-limit fields are left out only when the counter is "
        "unavailable and the request is served anyway."
    ),
    "RateLimit-Remaining": "Requests left in the current window.",
    "RateLimit-Reset": "Seconds until the window ends.",
    "RateLimit-Policy": "The limit and its window in seconds, e.g. `60;w=60`.",
}


def _rate_limited() -> bool:
    """Whether the function being described has a rate limit: `scripts/openapi.py` passes its environment."""
    return function_limit() is not None


def _rate_limit_statuses() -> set[int]:
    statuses = {int(HTTPStatus.TOO_MANY_REQUESTS)} if _rate_limited() else set()
    if fails_closed():
        statuses.add(int(HTTPStatus.SERVICE_UNAVAILABLE))
    return statuses


def _headers(descriptions: dict[str, str]) -> dict[str, Any]:
    # Required: a documented header is one the answer always carries, so a response without it breaks the contract.
    return {
        name: {"description": text, "required": True, "schema": {"type": "string"}}
        for name, text in descriptions.items()
    }


def _content(media_type: str, schema: dict[str, Any], examples: list[Any]) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": schema}
    if examples:
        content["example"] = examples[0]
    return {media_type: content}


class _RequestStrings(GenerateJsonSchema):
    """pydantic's JSON schemas, with the rule apikit.validation applies to every string a request reads: no control
    characters. A field's own pattern (an id's, an address's, AllowControl's, NOT_BLANK's) says it instead."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        json_schema = super().str_schema(schema)
        if self.mode == "validation":
            json_schema.setdefault("pattern", NO_CONTROL_PATTERN)
        return json_schema


class _Schemas:
    """Collects the models every route uses, then asks pydantic for all of them at once (one $defs)."""

    def __init__(self) -> None:
        self.models: list[tuple[type[BaseModel], Any]] = [(Problem, "serialization")]

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        if (model, mode) not in self.models:
            self.models.append((model, mode))
        return {"$ref": REF.format(model=model.__name__)}

    def components(self) -> dict[str, Any]:
        keys, top = models_json_schema(self.models, ref_template=REF, schema_generator=_RequestStrings)
        schemas: dict[str, Any] = top["$defs"]  # never empty: Problem is always one of the models
        for (model, _mode), schema in keys.items():
            if schema.get("$ref") != REF.format(model=model.__name__):
                # pydantic renames a model when two models share its name, or when its request and response
                # schemas differ: refuse both, so that one name always means one shape.
                raise ValueError(
                    f"{model.__name__}: two different models have this name, or one model has different request "
                    "and response schemas; rename one, or split it in two"
                )
        return schemas


def _examples(model: type[BaseModel]) -> list[Any]:
    # From the schema pydantic makes, so that examples a json_schema_extra function adds are found too.
    examples = model.model_json_schema().get("examples")
    return examples if isinstance(examples, list) else []


def _parameters(route: Route) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]]
    if route.path_model is not None:
        schema = route.path_model.model_json_schema(schema_generator=_RequestStrings)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": _field(schema["properties"][name])}
            for name in route.path_parameters
        ]
    else:
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.path_parameters
        ]
    if route.query is not None:
        schema = route.query.model_json_schema(schema_generator=_RequestStrings)
        for name, field in schema["properties"].items():
            parameter = {"name": name, "in": "query", "required": name in schema.get("required", [])}
            if "description" in field:
                parameter["description"] = field["description"]
            parameters.append({**parameter, "schema": _field(field)})
    for name, text in route.request_headers.items():
        parameters.append(
            {"name": name, "in": "header", "required": False, "description": text, "schema": {"type": "string"}}
        )
    return parameters


def _field(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema: pydantic's, less the title and description the parameter already carries.

    An optional parameter is simply absent, so `anyOf [X, null]` becomes X: a query string cannot say null.
    """
    field = {key: value for key, value in schema.items() if key not in {"title", "description"}}
    options = field.pop("anyOf", None)
    if options is not None:
        non_null = [option for option in options if option != {"type": "null"}]
        field = {**field, **non_null[0]} if len(non_null) == 1 else {**field, "anyOf": non_null}
        if field.get("default") is None:
            field.pop("default", None)
    return field


def _success(route: Route, schemas: _Schemas, head: bool) -> dict[str, Any]:
    status = HTTPStatus(route.status)
    answer: dict[str, Any] = {"description": status.phrase}
    answer["headers"] = _headers({**route.response_headers, **REQUEST_ID})
    if route.response is not None and not head and status is not HTTPStatus.NO_CONTENT:
        if isinstance(route.response, dict):
            answer["content"] = {route.response_media_type: {"schema": route.response}}
        else:
            ref = schemas.ref(route.response, "serialization")
            answer["content"] = _content(route.response_media_type, ref, _examples(route.response))
    return answer


def _error(status: HTTPStatus, head: bool, path: str) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": status.phrase,
        "headers": _headers({**_ERROR_HEADERS.get(status, {}), **REQUEST_ID}),
    }

    if not head:
        # An example of this status (Swagger UI would otherwise show the Problem schema's 422 under every one).
        example = {"type": "about:blank", "title": status.phrase, "status": int(status), "detail": status.description}
        answer["content"] = {
            PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}, "example": {**example, "instance": path}}
        }
    return answer


def _operation(route: Route, method: str, schemas: _Schemas) -> dict[str, Any]:
    head = method == "HEAD"
    operation: dict[str, Any] = {
        "operationId": f"{route.operation_id}_head" if head else route.operation_id,
        "summary": route.summary + (" (headers only)" if head else ""),
        "tags": [route.tag],
    }
    if route.description:
        operation["description"] = route.description
    if parameters := _parameters(route):
        operation["parameters"] = parameters
    if isinstance(route.body, dict):
        operation["requestBody"] = {
            "required": True,
            "content": {media_type: {"schema": route.body} for media_type in route.body_media_types},
        }
    elif route.body is not None:
        ref = schemas.ref(route.body, "validation")
        examples = _examples(route.body)
        operation["requestBody"] = {
            "required": True,
            "content": {
                media_type: _content(media_type, ref, examples)[media_type] for media_type in route.body_media_types
            },
        }
    responses: dict[str, Any] = {str(route.status): _success(route, schemas, head)}
    for status, text in route.responses.items():
        responses[str(int(status))] = {"description": text, "headers": _headers(REQUEST_ID)}
    for error_status in sorted(set(route.error_statuses) | _rate_limit_statuses()):
        responses[str(error_status)] = _error(HTTPStatus(error_status), head, route.path)
    if _rate_limited():
        for code, response in responses.items():
            # Always on a 429; on other answers too, unless the counter could not be reached (apikit.ratelimit).
            limits = _headers(RATE_LIMIT_HEADERS)
            if code != str(int(HTTPStatus.TOO_MANY_REQUESTS)):
                limits = {name: {**header, "required": False} for name, header in limits.items()}
            response["headers"] = {**limits, **response["headers"]}
    operation["responses"] = dict(sorted(responses.items()))
    if route.security is not None:
        # An empty requirement is OpenAPI's "or nothing at all".
        operation["security"] = [{route.security.name: []}, *([{}] if route.security_optional else [])]
    return operation


def describe(routes: list[Route]) -> dict[str, Any]:
    """{"paths": ..., "components": ...} for these routes."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    security: dict[str, Any] = {}
    for route in routes:
        for method in route.methods:
            paths.setdefault(route.path, {})[method.lower()] = _operation(route, method, schemas)
        if route.security is not None:
            security[route.security.name] = route.security.scheme
    components: dict[str, Any] = {"schemas": schemas.components()}
    if security:
        components["securitySchemes"] = security
    return {"paths": paths, "components": components}

"""The API Gateway HTTP API half of the dev server: route, build the event (payload format 2.0 or 1.0), apply CORS,
shape the response, and give API Gateway's own answers where the function cannot. devserver.server speaks HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
import re
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from devserver.authorizers import (
    LAMBDA_AUTHORIZER_TIMEOUT_SECONDS,
    AnswerCache,
    Clock,
    Granted,
    IssuerKeys,
    Refusal,
    RequestView,
    check_jwt,
    forbidden,
    identity_value,
    read_answer,
    server_error,
)
from devserver.persist import SAFE_METHODS
from devserver.pool import FunctionPool, Invocation, print_line
from devserver.server import HttpRequest, HttpResponse
from devserver.template import ACCOUNT_ID, DEFAULT_ROUTE, Api, App, Authorizer, Route

# API Gateway's own answers for an HTTP API, each with the page that documents it (or, where AWS documents none,
# what the service is observed to send). Every one is `{"message": ...}` JSON, like the service's.
# 6 MB each way for a synchronous invoke, measured on the JSON event and the JSON result:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024
# An error, crash, timeout, invalid result, or an invocation Lambda refuses (a throttle, a payload over 6 MB)
# is a 500: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html
# and https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html ("500 ... if the Lambda API
# rejects the invocation request"). No route: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html
# The integration timeout (30 s, or the route's TimeoutInMillis) is a 503 Service Unavailable, as HTTP APIs
# answer it; the function runs on until its own Timeout.
FAILED = {
    "error": (500, "Internal Server Error"),
    "crash": (500, "Internal Server Error"),
    "timeout": (500, "Internal Server Error"),
    "init_error": (500, "Internal Server Error"),
    "throttled": (500, "Internal Server Error"),
    "oom": (500, "Internal Server Error"),
    "unavailable": (503, "Service Unavailable"),
}
# API Gateway's messages where Python's phrase differs (RFC 9110 renamed 413 "Content Too Large").
REFUSED = {413: "Request Entity Too Large"}
# Payload format 2.0 passes these bodies as text and base64-encodes every other content type (none included):
# "If the content type of the request is binary, the body is base64-encoded."
# https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html (the same 2.0 format), with the list of
# textual types as HTTP APIs apply it. A body that is not UTF-8 goes base64 too: bytes are never altered.
_TEXT_TYPES = re.compile(r"^(text/.+|application/(json|xml|javascript))$")
DEFAULT_STAGE = "$default"
# requestContext.identity of a 1.0 event: these are null on an HTTP API (AWS's 1.0 example), sourceIp and userAgent
# are the caller's. https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
IDENTITY_1_0 = (
    "accessKey",
    "accountId",
    "caller",
    "cognitoAuthenticationProvider",
    "cognitoAuthenticationType",
    "cognitoIdentityId",
    "cognitoIdentityPoolId",
    "principalOrgId",
    "user",
    "userArn",
)
# A JWT authorizer's token, when the authorizer names no identity source: API Gateway's default.
DEFAULT_JWT_IDENTITY = "$request.header.Authorization"


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    priority: tuple[int, int, int, int, int]  # lower wins: $default, greedy, variables, ANY, shorter literal


def compile_route(route: Route) -> CompiledRoute:
    """Most specific first, $default last: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html"""
    if route.path == DEFAULT_ROUTE:
        return CompiledRoute(route, re.compile(r"^/.*$", re.DOTALL), (1, 0, 0, 0, 0))
    regex, variables, greedy = "", 0, 0
    for part in re.split(r"(\{[^}]+\})", route.path):
        if part.startswith("{") and part.endswith("+}"):
            regex += f"(?P<{part[1:-2]}>.+)"
            greedy += 1
        elif part.startswith("{"):
            regex += f"(?P<{part[1:-1]}>[^/]+)"
            variables += 1
        else:
            regex += re.escape(part)
    literal = len(re.sub(r"\{[^}]+\}", "", route.path))
    return CompiledRoute(
        route, re.compile(f"^{regex}$", re.DOTALL), (0, greedy, variables, route.method == "ANY", -literal)
    )


def decoded_path(raw_path: str) -> str:
    """The path routes are matched against: percent-decoded once, %2F included, so `/p/a%2Fb` is `/p/a/b` (three
    segments) and `/p/50%2525` is `/p/50%25`. API Gateway "decodes URL-encoded request parameters"
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html) before it routes: a
    route variable never holds a slash, and rawPath stays as sent. The catch-all (functions/not_found) applies the
    same rule to rawPath; tests/integration/test_gateway_answers.py pins it."""
    return unquote(raw_path)


def is_text(content_type: str) -> bool:
    return bool(_TEXT_TYPES.match(content_type.split(";")[0].strip().lower()))


def request_id() -> str:
    """API Gateway's request id shape: 11 random bytes, base64 (e.g. `Vb3kAjYkoAMEb1A=`)."""
    return base64.b64encode(uuid.uuid4().bytes[:11]).decode()


def trace_id() -> str:
    """An X-Ray trace header as API Gateway adds it: Root=1-<epoch seconds, hex>-<96 random bits, hex>."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"


class Gateway:
    def __init__(
        self,
        app: App,
        pools: dict[str, FunctionPool],
        log: Callable[[str], None] | None = None,
        static_dir: Path | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.pools = pools
        self.clock = clock  # the time JWTs' exp, nbf and iat are checked against
        self.keys = IssuerKeys()  # JWT authorizers' issuers' signing keys, fetched when first needed
        self.answers = AnswerCache()  # Lambda authorizers' answers, for their TTL
        self.log = log or print_line
        self.static_dir = static_dir.resolve() if static_dir is not None and static_dir.is_dir() else None
        # --persist: awaited before a write's 2xx is sent, so that what was acknowledged is on disk (devserver.persist).
        self.commit: Callable[[], Awaitable[None]] | None = None
        self.load(app)

    def load(self, app: App) -> None:
        self.app = app
        # A route under a named stage first: its API's stage segment is part of the URL (each API has a host of its
        # own on AWS, here they share one port).
        self.routes = sorted(
            (compile_route(route) for route in app.routes),
            key=lambda compiled: (self.stage_of(compiled.route.api) == DEFAULT_STAGE, compiled.priority),
        )
        self.answers.clear()  # the template changed: its authorizers may have

    # --- routing -------------------------------------------------------------------------------------------

    def stage_of(self, api_id: str) -> str:
        api = self.app.apis.get(api_id)
        return api.stage if api is not None else DEFAULT_STAGE

    def within_stage(self, api_id: str, path: str) -> str | None:
        """The path an API's routes see: a named stage is the first segment of the URL, `/{stage}/...`, and the
        routes match what follows it; the $default stage is served at the root. None when the path is not under
        the API's stage: no route of that API matches it (a 404).
        https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-stages.html"""
        stage = self.stage_of(api_id)
        if stage == DEFAULT_STAGE:
            return path
        prefix = "/" + stage
        if path == prefix:
            return "/"
        return path[len(prefix) :] if path.startswith(prefix + "/") else None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """`path` is decoded_path(raw path)."""
        for compiled in self.routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            routed = self.within_stage(compiled.route.api, path)
            found = compiled.pattern.fullmatch(routed) if routed is not None else None
            if found:
                return compiled.route, found.groupdict()
        return None

    def api_for(self, path: str) -> Api | None:
        """The HttpApi a path belongs to (for CORS when no route of the method matches): the first route of any
        method that matches it, else the only API there is."""
        for compiled in self.routes:
            routed = self.within_stage(compiled.route.api, path)
            if routed is not None and compiled.pattern.fullmatch(routed):
                return self.app.apis.get(compiled.route.api)
        return next(iter(self.app.apis.values())) if len(self.app.apis) == 1 else None

    # --- HTTP ----------------------------------------------------------------------------------------------

    async def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        raw_path, _, query = request.target.partition("?")
        raw_path = raw_path or "/"
        apigw_request_id = request_id()
        try:
            response = await self.route(request, raw_path, query, apigw_request_id)
        except Exception:  # a bug of ours must still look like API Gateway
            self.log(traceback.format_exc())
            response = api_error(500, "Internal Server Error")
        # API Gateway puts its request id on every response, its own and the function's.
        response.headers.append(("Apigw-Requestid", apigw_request_id))
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.log(f"{request.method} {request.target} {response.status} {elapsed_ms:.1f} ms")
        return response

    def refused(self, status: int) -> HttpResponse:
        """A request the HTTP server refuses before routing it (malformed, over 10 MB, too slow): API Gateway's
        answer for it."""
        response = api_error(status, REFUSED.get(status) or HTTPStatus(status).phrase)
        response.headers.append(("Apigw-Requestid", request_id()))
        self.log(f"- {status} (refused before routing)")
        return response

    async def route(self, request: HttpRequest, raw_path: str, query: str, apigw_request_id: str) -> HttpResponse:
        method = request.method
        headers = request_headers(request)
        path = decoded_path(raw_path)
        preflight = method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers
        api = self.api_for(path)
        if preflight and api is not None and api.cors:
            # API Gateway answers preflights itself, before any route or function sees them.
            return self.preflight(headers, api.cors)
        matched = self.match(method, path)
        static = None
        if self.static_dir is not None and (matched is None or matched[0].path == DEFAULT_ROUTE):
            static = self.static_file(method, path)
        if static is not None:
            return static  # a front end's own file: no CORS, as it is the page's own origin
        if matched is None:
            response = api_error(404, "Not Found")
        else:
            route, path_parameters = matched
            api = self.app.apis.get(route.api)
            headers.setdefault("x-amzn-trace-id", [trace_id()])  # one trace for the authorizer and the function
            event = self.build_event(request, headers, raw_path, query, route, path_parameters, apigw_request_id)
            verdict = await self.authorize(request, headers, raw_path, query, route, path_parameters, apigw_request_id)
            if isinstance(verdict, Refusal):
                self.log(f"{route.route_key}: {verdict.status} from authorizer {route.authorizer}: {verdict.reason}")
                response = api_error(verdict.status, verdict.message)
                if verdict.www_authenticate is not None:
                    response.headers.append(("www-authenticate", verdict.www_authenticate))
            else:
                if verdict is not None:
                    event["requestContext"]["authorizer"] = verdict.for_event(route.payload_format)
                response = await self.invoke(route, event)
                if self.commit is not None and method not in SAFE_METHODS and 200 <= response.status < 300:
                    try:
                        await self.commit()
                    except Exception as error:  # the write happened but is not durable: not acknowledged either
                        self.log(f"error: {route.function} answered {response.status}, but saving it failed: {error}")
                        response = api_error(500, "Internal Server Error")
        if api is not None and api.cors:
            self.add_cors_headers(headers, response, api.cors)
        return response

    def static_file(self, method: str, path: str) -> HttpResponse | None:
        """`--static-dir`, as `sam local start-api` serves it: a GET or HEAD for a file in the directory gets the
        file, unless a route other than $default matches the path. A directory's `index.html` answers for it (`/`
        included), and `name.html` for `/name`, as a front end's build expects (Next.js's static export)."""
        if method not in ("GET", "HEAD") or self.static_dir is None or "\0" in path:
            return None
        candidate = (self.static_dir / path.lstrip("/")).resolve()
        if candidate.is_dir():
            candidate = candidate / "index.html"
        elif not candidate.exists() and candidate.with_name(candidate.name + ".html").is_file():
            candidate = candidate.with_name(candidate.name + ".html")  # /about is about.html (Next.js `output: export`)
        if not candidate.is_relative_to(self.static_dir) or not candidate.is_file():
            return None  # outside the directory (../, a symlink out of it), or not there
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type in ("application/javascript", "application/json"):
            content_type += "; charset=utf-8"
        headers = [("Content-Type", content_type), ("Cache-Control", "no-cache")]
        return HttpResponse(200, headers, candidate.read_bytes())

    async def invoke(self, route: Route, event: dict[str, Any]) -> HttpResponse:
        event_json = json.dumps(event)  # ASCII: its length is its size in bytes
        if len(event_json) > MAX_INVOKE_PAYLOAD_BYTES:
            self.log(f"{route.function}: the event is over Lambda's 6 MB invoke payload limit; Lambda refuses it")
            return api_error(*FAILED["error"])
        invocation = await self.pools[route.function].invoke_async(
            event_json, route.timeout_ms / 1000, event["headers"].get("x-amzn-trace-id", "")
        )
        return self.build_response(route.function, invocation, route.payload_format)

    # --- authorizers, before the function runs ----------------------------------------------------------------
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-access-control.html

    async def authorize(
        self,
        request: HttpRequest,
        headers: dict[str, list[str]],
        raw_path: str,
        raw_query: str,
        route: Route,
        path_parameters: dict[str, str],
        apigw_request_id: str,
    ) -> Granted | Refusal | None:
        """The route's authorizer's verdict; None for an open route."""
        if route.authorizer is None:
            return None
        api = self.app.apis.get(route.api)
        authorizer = api.authorizers.get(route.authorizer) if api is not None else None
        if api is None or authorizer is None:  # guarded by an authorizer that is not there: never open it silently
            return server_error(f"{route.api} has no authorizer {route.authorizer!r}")
        query = query_values(raw_query)
        context = self.context_variables(request, raw_path, route, apigw_request_id)
        view = RequestView(headers, query, api.stage_variables, context)
        if authorizer.kind == "JWT":
            source = authorizer.identity_source[0] if authorizer.identity_source else DEFAULT_JWT_IDENTITY
            token = identity_value(source, view)
            # Off the event loop: the first request fetches the issuer's keys.
            return await asyncio.to_thread(check_jwt, token, authorizer, route.scopes, self.keys, self.clock())
        values = [identity_value(source, view) for source in authorizer.identity_source]
        if any(value is None for value in values):
            # "If the client's request doesn't include the identity sources, API Gateway doesn't invoke your Lambda
            # authorizer, and the client receives a 401 error."
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html
            missing = [source for source, value in zip(authorizer.identity_source, values, strict=True) if not value]
            return Refusal(401, "Unauthorized", None, "missing identity source " + ", ".join(missing))
        present = [value for value in values if value is not None]
        arn = self.route_arn(route, request.method, raw_path)
        key = (route.api, authorizer.name, *present)
        answer = self.answers.get(key) if authorizer.ttl_seconds and present else None
        if answer is None:
            event = self.authorizer_event(
                authorizer, request, headers, raw_path, raw_query, route, path_parameters, apigw_request_id
            )
            event.update(
                {"routeArn": arn, "identitySource": present}
                if authorizer.payload_format == "2.0"
                else {"methodArn": arn, "identitySource": ",".join(present), "authorizationToken": ",".join(present)}
            )
            pool = self.pools.get(authorizer.function)
            if pool is None:
                return server_error(f"its function {authorizer.function} is not running")
            invocation = await pool.invoke_async(
                json.dumps(event), LAMBDA_AUTHORIZER_TIMEOUT_SECONDS, headers["x-amzn-trace-id"][-1]
            )
            if invocation.outcome != "ok" or invocation.payload is None:
                return server_error(f"{authorizer.function} failed ({invocation.outcome})")
            answer = read_answer(authorizer, json.loads(invocation.payload))
            if answer is None:
                shape = "isAuthorized and context" if authorizer.simple_responses else "principalId and policyDocument"
                return server_error(f"{authorizer.function} answered what is not an authorizer response ({shape})")
            if present:  # "To enable caching, your authorizer must have at least one identity source."
                self.answers.put(key, answer, authorizer.ttl_seconds)
        if not answer.allows(arn):
            return forbidden(f"{authorizer.function} denied {arn}")
        return Granted(context=answer.context, principal_id=answer.principal_id)

    def authorizer_event(
        self,
        authorizer: Authorizer,
        request: HttpRequest,
        headers: dict[str, list[str]],
        raw_path: str,
        raw_query: str,
        route: Route,
        path_parameters: dict[str, str],
        apigw_request_id: str,
    ) -> dict[str, Any]:
        """A Lambda authorizer's event in its payload format: the request as the route's function would see it in
        that format, without the body, with `type: REQUEST` (and the caller adds the ARN and identity sources).
        https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html"""
        event = self.build_event(
            request, headers, raw_path, raw_query, route, path_parameters, apigw_request_id, authorizer.payload_format
        )
        for name in ("body", "isBase64Encoded"):
            event.pop(name, None)
        event["requestContext"].pop("authorizer", None)
        return {"version": event.pop("version"), "type": "REQUEST", **event}

    def route_arn(self, route: Route, method: str, raw_path: str) -> str:
        """`arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{method}/{path}`, the path as requested (after
        the stage), what a Lambda authorizer's IAM policy is evaluated against."""
        path = self.within_stage(route.api, raw_path) or raw_path
        return f"arn:aws:execute-api:{self.app.region}:{ACCOUNT_ID}:{route.api.lower()}/{self.stage_of(route.api)}/{method}{path}"  # noqa: E501

    def context_variables(
        self, request: HttpRequest, raw_path: str, route: Route, apigw_request_id: str
    ) -> dict[str, str]:
        """The `$context.*` variables an identity source may name.
        https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html"""
        return {
            "accountId": ACCOUNT_ID,
            "apiId": route.api.lower(),
            "httpMethod": request.method,
            "identity.sourceIp": request.client,
            "path": raw_path,
            "protocol": f"HTTP/{request.version}",
            "requestId": apigw_request_id,
            "routeKey": route.route_key,
            "stage": self.stage_of(route.api),
        }

    # --- request -> event ----------------------------------------------------------------------------------

    def build_event(
        self,
        request: HttpRequest,
        request_headers: dict[str, list[str]],
        raw_path: str,
        raw_query: str,
        route: Route,
        path_parameters: dict[str, str],
        apigw_request_id: str,
        payload_format: str | None = None,
    ) -> dict[str, Any]:
        """The event in the route's payload format (2.0 unless the event says 1.0), or in `payload_format`:
        https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
        Under a named stage, rawPath and the paths of requestContext keep the stage segment, as `$context.path`
        does ("/{stage}/root/child", https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html),
        while routeKey, resource and pathParameters are the route's."""
        payload_format = payload_format or route.payload_format
        api = self.app.apis.get(route.api)
        stage_variables = dict(api.stage_variables) if api is not None else {}
        headers = {name: list(values) for name, values in request_headers.items()}
        body = request.body
        source_ip = request.client
        # Headers API Gateway adds: the client's address appended to any X-Forwarded-For it sent (so only the
        # last entry is trustworthy), the port and scheme it was reached on, and an X-Ray trace id.
        forwarded = ",".join(headers.get("x-forwarded-for", []))
        headers["x-forwarded-for"] = [f"{forwarded}, {source_ip}" if forwarded else source_ip]
        headers["x-forwarded-port"] = [str(request.port)]
        headers["x-forwarded-proto"] = ["http"]
        headers.setdefault("x-amzn-trace-id", [trace_id()])
        query = query_values(raw_query)
        text = body_text(body, ",".join(headers.get("content-type", [])))
        host = headers.get("host", [f"127.0.0.1:{request.port}"])[-1]
        domain = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        now = datetime.now(UTC)
        context = {
            "accountId": ACCOUNT_ID,
            "apiId": route.api.lower(),
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "requestId": apigw_request_id,
            "stage": self.stage_of(route.api),
        }
        event: dict[str, Any]
        if payload_format == "1.0":
            event = {
                "version": "1.0",
                "resource": route.path,
                "path": raw_path,
                "httpMethod": request.method,
                # The last value of a repeated header or parameter; all of them in the multiValue fields.
                "headers": {name: values[-1] for name, values in headers.items()},
                "multiValueHeaders": headers,
                "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
                "multiValueQueryStringParameters": query or None,
                "requestContext": {
                    **context,
                    # What a route without a JWT or Lambda authorizer gets, as in AWS's 1.0 example.
                    "authorizer": {"claims": None, "scopes": None},
                    "extendedRequestId": apigw_request_id,
                    "httpMethod": request.method,
                    "identity": {
                        **dict.fromkeys(IDENTITY_1_0),  # the IAM and Cognito caller fields: null on an HTTP API
                        "sourceIp": source_ip,
                        "userAgent": ",".join(headers.get("user-agent", [])),
                    },
                    "path": raw_path,
                    "protocol": f"HTTP/{request.version}",
                    "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                    "requestTimeEpoch": int(now.timestamp() * 1000),
                    "resourceId": None,
                    "resourcePath": route.path,
                },
                "pathParameters": path_parameters or None,
                "stageVariables": stage_variables or None,
                "body": None,
            }
        else:
            cookies = [part.strip() for value in headers.pop("cookie", []) for part in value.split(";") if part.strip()]
            event = {"version": "2.0", "routeKey": route.route_key, "rawPath": raw_path, "rawQueryString": raw_query}
            if cookies:
                event["cookies"] = cookies
            # Repeated headers and parameters are joined with commas.
            event["headers"] = {name: ",".join(values) for name, values in headers.items()}
            if query:
                event["queryStringParameters"] = {key: ",".join(values) for key, values in query.items()}
            event["requestContext"] = {
                **context,
                "http": {
                    "method": request.method,
                    "path": raw_path,
                    "protocol": f"HTTP/{request.version}",
                    "sourceIp": source_ip,
                    "userAgent": ",".join(headers.get("user-agent", [])),
                },
                "routeKey": route.route_key,
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            }
            if path_parameters:
                event["pathParameters"] = path_parameters
            if stage_variables:
                event["stageVariables"] = stage_variables
        if body:
            event["body"] = text if text is not None else base64.b64encode(body).decode()
        event["isBase64Encoded"] = bool(body) and text is None
        return event

    # --- result -> response --------------------------------------------------------------------------------

    def build_response(self, function: str, invocation: Invocation, payload_format: str = "2.0") -> HttpResponse:
        """The function's result as the HTTP response (to a HEAD, the server sends it without its body)."""
        if invocation.outcome != "ok" or invocation.payload is None:
            if invocation.outcome == "throttled":
                self.log(f"{function}: throttled, all {self.pools[function].function.concurrency} reserved busy")
            return api_error(*FAILED.get(invocation.outcome, FAILED["error"]))
        if len(invocation.payload) > MAX_INVOKE_PAYLOAD_BYTES:
            self.log(f"{function}: the response is over Lambda's 6 MB invoke payload limit")
            return api_error(*FAILED["error"])
        result = json.loads(invocation.payload)
        response = shape_response(result) if payload_format == "2.0" else shape_response_v1(result)
        if response is None:
            self.log(
                f"{function}: the result is not a valid HTTP API response "
                "(statusCode 100..599, body a string, header values strings)"
            )
            return api_error(*FAILED["error"])
        return response

    # --- CORS, as API Gateway applies CorsConfiguration ----------------------------------------------------
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html

    @staticmethod
    def allowed_origin(origin: str | None, cors: dict[str, Any]) -> str | None:
        """`*` allows any origin; an entry with `*` in it (https://*, https://*.example.com) is a pattern."""
        if origin is None:
            return None
        origins = cors.get("AllowOrigins", [])
        if "*" in origins:
            return "*"
        for allowed in origins:
            if origin == allowed or ("*" in allowed and origin_pattern(allowed).fullmatch(origin)):
                return origin
        return None

    def preflight(self, headers: dict[str, list[str]], cors: dict[str, Any]) -> HttpResponse:
        response = HttpResponse(204)
        origin = self.allowed_origin(first(headers, "origin"), cors)
        requested_method = (first(headers, "access-control-request-method") or "").upper()
        methods = [method.upper() for method in cors.get("AllowMethods", [])]
        if origin is None or not ("*" in methods or requested_method in methods):
            return response  # API Gateway answers, but without CORS headers, so the browser blocks the call
        response.headers.append(("Access-Control-Allow-Origin", origin))
        response.headers.append(("Access-Control-Allow-Methods", ",".join(methods)))
        allow_headers = cors.get("AllowHeaders", [])
        if "*" in allow_headers:
            allow_headers = [first(headers, "access-control-request-headers") or ""]
        if allow_headers and allow_headers != [""]:
            response.headers.append(("Access-Control-Allow-Headers", ",".join(allow_headers)))
        if cors.get("AllowCredentials"):
            response.headers.append(("Access-Control-Allow-Credentials", "true"))
        if cors.get("MaxAge") is not None:
            response.headers.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
        return response

    def add_cors_headers(self, headers: dict[str, list[str]], response: HttpResponse, cors: dict[str, Any]) -> None:
        # API Gateway's configuration wins over whatever the function sent.
        response.headers = [(name, value) for name, value in response.headers if not is_cors_header(name)]
        origin = self.allowed_origin(first(headers, "origin"), cors)
        if origin is None:
            return
        response.headers.append(("Access-Control-Allow-Origin", origin))
        if cors.get("AllowCredentials"):
            response.headers.append(("Access-Control-Allow-Credentials", "true"))
        if cors.get("ExposeHeaders"):
            response.headers.append(("Access-Control-Expose-Headers", ",".join(cors["ExposeHeaders"])))
        if origin != "*":
            response.headers.append(("Vary", "Origin"))


def is_cors_header(name: str) -> bool:
    return name.lower().startswith("access-control-")


def request_headers(request: HttpRequest) -> dict[str, list[str]]:
    """Each header's values in the order sent, by lower-case name."""
    headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers.setdefault(name, []).append(value)
    return headers


def query_values(raw_query: str) -> dict[str, list[str]]:
    """Each query parameter's values in the order sent, blank ones kept."""
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    return query


def first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def api_error(status: int, message: str) -> HttpResponse:
    """API Gateway's own error shape, used when the function itself could not answer."""
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode())


def origin_pattern(allowed: str) -> re.Pattern[str]:
    return re.compile(".+".join(re.escape(part) for part in allowed.lower().split("*")), re.IGNORECASE)


def body_text(body: bytes, content_type: str) -> str | None:
    """The body as the event's text, or None when it must go base64 (binary type, or not valid UTF-8)."""
    if not body or not is_text(content_type):
        return None if body else ""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def shape_response(result: Any) -> HttpResponse | None:
    """A 2.0 response, or the inferred format: a result without statusCode is the body of a 200, a string as it
    is, anything else as JSON. https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html"""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("Content-Type", "application/json")], body.encode())
    headers = response_headers(result.get("headers"))
    if headers is None:
        return None
    headers += [("Set-Cookie", str(cookie)) for cookie in result.get("cookies") or []]
    return http_response(result, headers) if all(safe_header(*header) for header in headers) else None


def shape_response_v1(result: Any) -> HttpResponse | None:
    """A 1.0 response must say its statusCode (nothing is inferred); multiValueHeaders add to headers."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return None
    headers = response_headers(result.get("headers"))
    if headers is None:
        return None
    present = {(name.lower(), value) for name, value in headers}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            if (name.lower(), header_value(value)) not in present:
                headers.append((name, header_value(value)))
    return http_response(result, headers) if all(safe_header(*header) for header in headers) else None


def header_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)  # true, 1.5: as JSON writes them


def response_headers(given: Any) -> list[tuple[str, str]] | None:
    """A map of names to strings (numbers and booleans written as JSON); a list or a map as a value is invalid, and
    so is a line break in a name or value (it would split the response)."""
    headers = []
    for name, value in (given or {}).items():
        if isinstance(value, list | dict):
            return None
        headers.append((name, header_value(value)))
    return headers if all(safe_header(name, value) for name, value in headers) else None


def safe_header(name: str, value: str) -> bool:
    return not any(character in text for text in (name, value) for character in "\r\n\0") and ":" not in name


def http_response(result: dict[str, Any], headers: list[tuple[str, str]]) -> HttpResponse | None:
    """None when API Gateway would reject the result: statusCode not 100..599, or a body that is not a string."""
    status, body = result["statusCode"], result.get("body")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return None
    if body is not None and not isinstance(body, str):
        return None
    try:
        data = base64.b64decode(body or "", validate=True) if result.get("isBase64Encoded") else (body or "").encode()
    except ValueError:
        return None
    # The server writes Content-Length itself; API Gateway's default type is JSON, and only with a body.
    headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
    if data and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))
    return HttpResponse(status, headers, data)

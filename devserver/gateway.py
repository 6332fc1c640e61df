"""The API Gateway HTTP API half of the dev server: route, build the event (payload format 2.0 or 1.0), apply CORS,
shape the response, and give API Gateway's own answers where the function cannot.

A WSGI application (served by Werkzeug) so that HTTP parsing is a maintained library's job, not ours.
"""

from __future__ import annotations

import base64
import json
import re
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from devserver.pool import FunctionPool, Invocation, print_line
from devserver.template import ACCOUNT_ID, DEFAULT_ROUTE, Api, App, Route

# API Gateway's own answers for an HTTP API, each with the page that documents it (or, where AWS documents none,
# what the service is observed to send). Every one is `{"message": ...}` JSON, like the service's.
# 10 MB request payload: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
MAX_REQUEST_BYTES = 10 * 1024 * 1024
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
# Payload format 2.0 passes these bodies as text and base64-encodes every other content type (none included):
# "If the content type of the request is binary, the body is base64-encoded."
# https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html (the same 2.0 format), with the list of
# textual types as HTTP APIs apply it. A body that is not UTF-8 goes base64 too: bytes are never altered.
_TEXT_TYPES = re.compile(r"^(text/.+|application/(json|xml|javascript))$")


class BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
    def __init__(self, app: App, pools: dict[str, FunctionPool], log: Callable[[str], None] | None = None) -> None:
        self.pools = pools
        self.log = log or print_line
        self.load(app)

    def load(self, app: App) -> None:
        self.app = app
        self.routes = sorted((compile_route(route) for route in app.routes), key=lambda compiled: compiled.priority)

    # --- routing -------------------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """`path` is decoded_path(raw path)."""
        for compiled in self.routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.fullmatch(path)
            if found:
                return compiled.route, found.groupdict()
        return None

    def api_for(self, path: str) -> Api | None:
        """The HttpApi a path belongs to (for CORS when no route of the method matches): the first route of any
        method that matches it, else the only API there is."""
        for compiled in self.routes:
            if compiled.pattern.fullmatch(path):
                return self.app.apis.get(compiled.route.api)
        return next(iter(self.app.apis.values())) if len(self.app.apis) == 1 else None

    # --- WSGI ----------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        method = request.method.upper()
        raw_uri = request.environ.get("RAW_URI", request.full_path)
        # WSGI hands over the request line's bytes as latin-1: a client that sent raw UTF-8 meant UTF-8.
        raw_path = raw_uri.encode("latin-1").decode("utf-8", errors="replace").split("?", 1)[0] or "/"
        apigw_request_id = request_id()
        try:
            response = self.route(request, method, raw_path, apigw_request_id)
        except Exception:  # a bug of ours must still look like API Gateway, not Werkzeug's HTML page
            self.log(traceback.format_exc())
            response = api_error(500, "Internal Server Error")
        # API Gateway puts its request id on every response, its own and the function's.
        response.headers["Apigw-Requestid"] = apigw_request_id
        elapsed_ms = (time.perf_counter() - started) * 1000
        query = f"?{request.query_string.decode(errors='replace')}" if request.query_string else ""
        self.log(f"{method} {raw_path}{query} {response.status_code} {elapsed_ms:.1f} ms")
        return response

    def route(self, request: Request, method: str, raw_path: str, apigw_request_id: str) -> Response:
        if not request.headers.get("content-length", "0").strip().isdigit():
            return api_error(400, "Bad Request")
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            return api_error(413, "Request Entity Too Large")  # judged from the header, as API Gateway does
        path = decoded_path(raw_path)
        preflight = (
            method == "OPTIONS" and "origin" in request.headers and "access-control-request-method" in request.headers
        )
        api = self.api_for(path)
        if preflight and api is not None and api.cors:
            # API Gateway answers preflights itself, before any route or function sees them.
            return self.preflight(request, api.cors)
        matched = self.match(method, path)
        if matched is None:
            response = api_error(404, "Not Found")
        else:
            route, path_parameters = matched
            api = self.app.apis.get(route.api)
            try:
                body = read_body(request)
            except BodyError as error:
                return api_error(error.status, error.message)
            request.environ.get("devserver.request_read", lambda: None)()
            event = self.build_event(request, raw_path, route, path_parameters, body, apigw_request_id)
            response = self.invoke(route, event)
        if api is not None and api.cors:
            self.add_cors_headers(request, response, api.cors)
        return response

    def invoke(self, route: Route, event: dict[str, Any]) -> Response:
        event_json = json.dumps(event)  # ASCII: its length is its size in bytes
        if len(event_json) > MAX_INVOKE_PAYLOAD_BYTES:
            self.log(f"{route.function}: the event is over Lambda's 6 MB invoke payload limit; Lambda refuses it")
            return api_error(*FAILED["error"])
        invocation = self.pools[route.function].invoke(
            event_json, route.timeout_ms / 1000, event["headers"].get("x-amzn-trace-id", "")
        )
        return self.build_response(route.function, invocation, route.payload_format)

    # --- request -> event ----------------------------------------------------------------------------------

    def build_event(
        self,
        request: Request,
        raw_path: str,
        route: Route,
        path_parameters: dict[str, str],
        body: bytes,
        apigw_request_id: str,
    ) -> dict[str, Any]:
        """The event in the route's payload format (2.0 unless the event says 1.0):
        https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html"""
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        source_ip = request.remote_addr or "127.0.0.1"
        # Headers API Gateway adds: the client's address appended to any X-Forwarded-For it sent (so only the
        # last entry is trustworthy), the port and scheme it was reached on, and an X-Ray trace id.
        forwarded = ",".join(headers.get("x-forwarded-for", []))
        headers["x-forwarded-for"] = [f"{forwarded}, {source_ip}" if forwarded else source_ip]
        headers["x-forwarded-port"] = [str(request.environ.get("SERVER_PORT", "80"))]
        headers["x-forwarded-proto"] = [request.scheme]
        headers.setdefault("x-amzn-trace-id", [trace_id()])
        raw_query = request.environ.get("QUERY_STRING", "")
        query: dict[str, list[str]] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query.setdefault(key, []).append(value)
        text = body_text(body, request.headers.get("content-type", ""))
        domain = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
        now = datetime.now(UTC)
        context = {
            "accountId": ACCOUNT_ID,
            "apiId": route.api.lower(),
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "requestId": apigw_request_id,
            "stage": "$default",
        }
        event: dict[str, Any]
        if route.payload_format == "1.0":
            event = {
                "version": "1.0",
                "resource": route.path,
                "path": raw_path,
                "httpMethod": request.method.upper(),
                # The last value of a repeated header or parameter; all of them in the multiValue fields.
                "headers": {name: values[-1] for name, values in headers.items()},
                "multiValueHeaders": headers,
                "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
                "multiValueQueryStringParameters": query or None,
                "requestContext": {
                    **context,
                    "extendedRequestId": apigw_request_id,
                    "httpMethod": request.method.upper(),
                    "identity": {"sourceIp": source_ip, "userAgent": request.headers.get("user-agent", "")},
                    "path": raw_path,
                    "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                    "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                    "requestTimeEpoch": int(now.timestamp() * 1000),
                    "resourcePath": route.path,
                },
                "pathParameters": path_parameters or None,
                "stageVariables": None,
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
                    "method": request.method.upper(),
                    "path": raw_path,
                    "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                    "sourceIp": source_ip,
                    "userAgent": request.headers.get("user-agent", ""),
                },
                "routeKey": route.route_key,
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            }
            if path_parameters:
                event["pathParameters"] = path_parameters
        if body:
            event["body"] = text if text is not None else base64.b64encode(body).decode()
        event["isBase64Encoded"] = bool(body) and text is None
        return event

    # --- result -> response --------------------------------------------------------------------------------

    def build_response(self, function: str, invocation: Invocation, payload_format: str = "2.0") -> Response:
        """The function's result as the HTTP response. To a HEAD, the same response without its body: Werkzeug sends
        the headers only, Content-Length included, as HTTP requires of any server (RFC 9110 section 9.3.2)."""
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

    def preflight(self, request: Request, cors: dict[str, Any]) -> Response:
        response = Response(status=204)
        origin = self.allowed_origin(request.headers.get("origin"), cors)
        requested_method = request.headers.get("access-control-request-method", "").upper()
        methods = [method.upper() for method in cors.get("AllowMethods", [])]
        if origin is None or not ("*" in methods or requested_method in methods):
            return response  # API Gateway answers, but without CORS headers, so the browser blocks the call
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = ",".join(methods)
        allow_headers = cors.get("AllowHeaders", [])
        if "*" in allow_headers:
            allow_headers = [request.headers.get("access-control-request-headers", "")]
        if allow_headers and allow_headers != [""]:
            response.headers["Access-Control-Allow-Headers"] = ",".join(allow_headers)
        if cors.get("AllowCredentials"):
            response.headers["Access-Control-Allow-Credentials"] = "true"
        if cors.get("MaxAge") is not None:
            response.headers["Access-Control-Max-Age"] = str(cors["MaxAge"])
        return response

    def add_cors_headers(self, request: Request, response: Response, cors: dict[str, Any]) -> None:
        # API Gateway's configuration wins over whatever the function sent.
        for name in [name for name, _ in response.headers.items() if name.lower().startswith("access-control-")]:
            del response.headers[name]
        origin = self.allowed_origin(request.headers.get("origin"), cors)
        if origin is None:
            return
        response.headers["Access-Control-Allow-Origin"] = origin
        if cors.get("AllowCredentials"):
            response.headers["Access-Control-Allow-Credentials"] = "true"
        if cors.get("ExposeHeaders"):
            response.headers["Access-Control-Expose-Headers"] = ",".join(cors["ExposeHeaders"])
        if origin != "*":
            response.headers.add("Vary", "Origin")


def api_error(status: int, message: str) -> Response:
    """API Gateway's own error shape, used when the function itself could not answer."""
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


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


def read_body(request: Request) -> bytes:
    """The whole body, counted as it arrives (a chunked body has no Content-Length to judge it by): over 10 MB is
    a 413 before the rest is read; a truncated, stalled or malformed body is API Gateway's 400."""
    chunks, size = [], 0
    try:
        while chunk := request.stream.read(64 * 1024):
            size += len(chunk)
            if size > MAX_REQUEST_BYTES:
                raise BodyError(413, "Request Entity Too Large")
            chunks.append(chunk)
    except (OSError, ValueError, HTTPException) as error:  # ClientDisconnected, a timeout, a bad chunk header
        raise BodyError(400, "Bad Request") from error
    return b"".join(chunks)


def shape_response(result: Any) -> Response | None:
    """A 2.0 response, or the inferred format: a result without statusCode is the body of a 200, a string as it
    is, anything else as JSON. https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html"""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return Response(body, status=200, content_type="application/json")
    headers = response_headers(result.get("headers"))
    if headers is None:
        return None
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", str(cookie))
    return http_response(result, headers)


def shape_response_v1(result: Any) -> Response | None:
    """A 1.0 response must say its statusCode (nothing is inferred); multiValueHeaders add to headers."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return None
    headers = response_headers(result.get("headers"))
    if headers is None:
        return None
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            if (name, header_value(value)) not in headers.items():
                headers.add(name, header_value(value))
    return http_response(result, headers)


def header_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)  # true, 1.5: as JSON writes them


def response_headers(given: Any) -> Headers | None:
    """A map of names to strings (numbers and booleans written as JSON); a list or a map as a value is invalid."""
    headers = Headers()
    for name, value in (given or {}).items():
        if isinstance(value, list | dict):
            return None
        headers.add(name, header_value(value))
    return headers


def http_response(result: dict[str, Any], headers: Headers) -> Response | None:
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
    has_type = "content-type" in headers  # Headers compares names case-insensitively
    response = Response(data, status=status, headers=headers)
    if not has_type:  # Werkzeug would say text/plain; API Gateway's default is JSON, and only with a body
        del response.headers["Content-Type"]
        if data:
            response.headers["Content-Type"] = "application/json"
    return response

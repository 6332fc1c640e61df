"""The API Gateway HTTP API half of the dev server: route, build the v2 event, apply CORS, shape the response.

A WSGI application (served by Werkzeug) so that HTTP parsing is a maintained library's job, not ours.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from devserver.pool import FunctionPool, Invocation
from devserver.template import App, Route

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's limit on a request body
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded|graphql|x-ndjson))$"
)


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    pattern: re.Pattern[str]
    priority: tuple[int, int, int, int]  # lower wins: greedy, variables, ANY, shorter literal


def compile_route(route: Route) -> CompiledRoute:
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
    return CompiledRoute(route, re.compile(f"^{regex}$"), (greedy, variables, route.method == "ANY", -literal))


def is_text(content_type: str) -> bool:
    return not content_type or bool(_TEXT_TYPES.match(content_type.split(";")[0].strip().lower()))


class Gateway:
    def __init__(self, app: App, pools: dict[str, FunctionPool], log: Callable[[str], None] | None = None) -> None:
        self.pools = pools
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.load(app)

    def load(self, app: App) -> None:
        self.app = app
        self.routes = sorted((compile_route(route) for route in app.routes), key=lambda compiled: compiled.priority)

    # --- routing -------------------------------------------------------------------------------------------

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for compiled in self.routes:
            if compiled.route.method not in (method, "ANY"):
                continue
            found = compiled.pattern.match(path)
            if found:
                return compiled.route, {name: unquote(value) for name, value in found.groupdict().items()}
        return None

    # --- WSGI ----------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        cors = self.app.cors
        method = request.method.upper()
        preflight = (
            method == "OPTIONS" and "origin" in request.headers and "access-control-request-method" in request.headers
        )
        raw_path = request.environ.get("RAW_URI", request.full_path).split("?", 1)[0] or "/"
        if (request.content_length or 0) > MAX_PAYLOAD_BYTES:
            response = api_error(413, "Request Entity Too Large")
        elif cors and preflight:
            # API Gateway answers preflights itself, before any route or function sees them.
            response = self.preflight(request, cors)
        else:
            matched = self.match(method, unquote(raw_path))
            if matched is None:
                response = api_error(404, "Not Found")
            else:
                route, path_parameters = matched
                event = self.build_event(request, raw_path, route, path_parameters)
                invocation = self.pools[route.function].invoke(event)
                response = self.build_response(invocation, head=method == "HEAD")
                self.report(route.function, event["requestContext"]["requestId"], invocation)
            if cors:
                self.add_cors_headers(request, response, cors)
        elapsed_ms = (time.perf_counter() - started) * 1000
        query = f"?{request.query_string.decode()}" if request.query_string else ""
        self.log(f"{method} {raw_path}{query} {response.status_code} {elapsed_ms:.1f} ms")
        return response

    # --- request -> event ----------------------------------------------------------------------------------

    def build_event(
        self, request: Request, raw_path: str, route: Route, path_parameters: dict[str, str]
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            if key == "cookie":
                continue
            headers[key] = f"{headers[key]},{value}" if key in headers else value
        raw_query = request.environ.get("QUERY_STRING", "")
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query[key] = f"{query[key]},{value}" if key in query else value
        cookies = [
            cookie.strip()
            for header in request.headers.getlist("Cookie")
            for cookie in header.split(";")
            if cookie.strip()
        ]
        body = request.get_data()
        content_type = request.headers.get("content-type", "")
        binary = bool(body) and not is_text(content_type)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": raw_path,
            "rawQueryString": raw_query,
        }
        if cookies:
            event["cookies"] = cookies
        event["headers"] = headers
        if query:
            event["queryStringParameters"] = query
        event["requestContext"] = {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": request.host,
            "domainPrefix": request.host.split(".")[0].split(":")[0],
            "http": {
                "method": request.method.upper(),
                "path": raw_path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        }
        if path_parameters:
            event["pathParameters"] = path_parameters
        if body:
            event["body"] = base64.b64encode(body).decode() if binary else body.decode("utf-8", errors="replace")
        event["isBase64Encoded"] = binary
        return event

    # --- result -> response --------------------------------------------------------------------------------

    def build_response(self, invocation: Invocation, head: bool) -> Response:
        if invocation.outcome == "timeout":
            return api_error(504, "Endpoint request timed out")
        if invocation.outcome in ("crash", "init_error"):
            return api_error(502, "Internal Server Error")
        if invocation.outcome != "ok" or invocation.payload is None:
            return api_error(500, "Internal Server Error")
        result = json.loads(invocation.payload)
        response = shape_response(result)
        if response is None:
            return api_error(500, "Internal Server Error")
        if head:
            response.set_data(b"")
        return response

    def report(self, function: str, request_id: str, invocation: Invocation) -> None:
        init = f"\tInit Duration: {invocation.init_ms:.2f} ms" if invocation.init_ms is not None else ""
        billed = max(1, int(invocation.duration_ms + 0.999))
        memory = self.pools[function].function.memory_mb
        self.log(
            f"REPORT RequestId: {request_id}\tFunction: {function}\tDuration: {invocation.duration_ms:.2f} ms\t"
            f"Billed Duration: {billed} ms\tMemory Size: {memory} MB\tMax Memory Used: {invocation.memory_mb} MB{init}"
        )

    # --- CORS, as API Gateway applies CorsConfiguration ----------------------------------------------------

    @staticmethod
    def allowed_origin(origin: str | None, cors: dict[str, Any]) -> str | None:
        origins = cors.get("AllowOrigins", [])
        if origin is None:
            return None
        if "*" in origins:
            return "*"
        return origin if origin in origins else None

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


def shape_response(result: Any) -> Response | None:
    """A v2 response dict, or the inferred format: anything else is a 200 JSON body."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return Response(json.dumps(result), status=200, content_type="application/json")
    status = result["statusCode"]
    if not isinstance(status, int) or not 100 <= status <= 599:
        return None
    headers = Headers()
    for name, value in (result.get("headers") or {}).items():
        headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        headers.add("Set-Cookie", cookie)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    response = Response(data, status=status, headers=headers)
    if "content-type" not in headers:  # Headers compares names case-insensitively
        del response.headers["Content-Type"]
        if data:
            response.headers["Content-Type"] = "application/json"
    return response

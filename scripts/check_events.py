"""Check every sample event under events/ against template.yaml, not a list of them.

events/<function>/*.json is an API Gateway HTTP API payload 2.0 event for the function whose CodeUri is
functions/<function>/: its routeKey is one of that function's routes, its rawPath matches the route's path (the dev
server's own matching, devserver.gateway), requestContext agrees with both, pathParameters are the route's, and a
Content-Length header is the body's length in bytes. `make invoke` and `sam local invoke` send these files as they are,
so one that no route would produce tests nothing. Each problem is `events/<function>/<file>:<line>: <what>`;
tests/unit/test_sample_events.py runs it in `make test`.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devserver.gateway import compile_route, decoded_path  # noqa: E402
from devserver.template import Route, load_app  # noqa: E402

# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
REQUIRED: dict[tuple[str, ...], type] = {
    ("version",): str,
    ("routeKey",): str,
    ("rawPath",): str,
    ("rawQueryString",): str,
    ("headers",): dict,
    ("requestContext",): dict,
    ("requestContext", "http"): dict,
    ("requestContext", "http", "method"): str,
    ("requestContext", "http", "path"): str,
    ("requestContext", "http", "protocol"): str,
    ("requestContext", "http", "sourceIp"): str,
    ("requestContext", "requestId"): str,
    ("requestContext", "routeKey"): str,
    ("requestContext", "stage"): str,
    ("requestContext", "timeEpoch"): int,
    ("isBase64Encoded",): bool,
}
OPTIONAL: dict[tuple[str, ...], type] = {
    ("body",): str,
    ("cookies",): list,
    ("pathParameters",): dict,
    ("queryStringParameters",): dict,
}


def line_of(text: str, keys: tuple[str, ...]) -> int:
    """The line of the last of `keys`, each looked for after the one before it (a nested key), or of the nearest
    one found: good enough for the pretty-printed JSON of events/."""
    position = 0
    for key in keys:
        found = text.find(json.dumps(key) + ":", position)
        if found < 0:
            break
        position = found
    return text.count("\n", 0, position) + 1


def get(event: dict[str, Any], keys: tuple[str, ...]) -> Any:
    value: Any = event
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def check_event(name: str, text: str, function: str, routes: list[Route]) -> list[str]:
    """The problems of one event (`name`, its path for the messages) sent to `function`, which `routes` reach."""
    problems: list[str] = []

    def problem(keys: tuple[str, ...], message: str) -> None:
        problems.append(f"{name}:{line_of(text, keys)}: {message}")

    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        return [f"{name}:{error.lineno}: not JSON: {error.msg}"]
    if not isinstance(event, dict):
        return [f"{name}:1: not a JSON object"]
    for keys, kind in (REQUIRED | OPTIONAL).items():
        value = get(event, keys)
        if value is None and keys in OPTIONAL:
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            state = "missing" if value is None else f"a {type(value).__name__}"
            problem(keys, f"{'.'.join(keys)} is {state}, not a {kind.__name__} (HTTP API payload format 2.0)")
    if problems:
        return problems
    if event["version"] != "2.0":
        problem(("version",), f'version is "{event["version"]}", not "2.0" (HTTP API payload format 2.0)')

    route_key, raw_path, http = event["routeKey"], event["rawPath"], event["requestContext"]["http"]
    if event["requestContext"]["routeKey"] != route_key:
        problem(
            ("requestContext", "routeKey"),
            f'routeKey "{route_key}" but requestContext.routeKey is "{event["requestContext"]["routeKey"]}"',
        )
    if http["path"] != raw_path:
        problem(
            ("requestContext", "http", "path"), f'rawPath "{raw_path}" but requestContext.http.path is "{http["path"]}"'
        )
    route = next((route for route in routes if route.route_key == route_key), None)
    if route is None:
        served = ", ".join(sorted(route.route_key for route in routes)) or "none"
        problem(
            ("routeKey",),
            f'routeKey "{route_key}" is not a route of {function} in template.yaml (its routes: {served})',
        )
        return problems
    if route.method not in ("ANY", http["method"]):
        problem(
            ("requestContext", "http", "method"),
            f'routeKey "{route_key}" but requestContext.http.method is "{http["method"]}"',
        )
    matched = compile_route(route).pattern.fullmatch(decoded_path(raw_path))
    if matched is None:
        problem(("rawPath",), f'routeKey "{route_key}" but rawPath "{raw_path}" is not a path of {route.path}')
    elif (event.get("pathParameters") or {}) != matched.groupdict():
        expected = json.dumps(matched.groupdict()) if matched.groupdict() else "absent"
        problem(
            ("pathParameters",),
            f'rawPath "{raw_path}" but pathParameters is {json.dumps(event.get("pathParameters"))}, not {expected}',
        )

    headers = event["headers"]
    for header in headers:
        if header != header.lower():
            problem(("headers", header), f'header "{header}" is not lower case, as API Gateway sends every header name')
    length = headers.get("content-length")
    body = event.get("body") or ""
    try:
        size = len(base64.b64decode(body, validate=True) if event["isBase64Encoded"] else body.encode())
    except binascii.Error:
        problem(("body",), "isBase64Encoded is true but body is not base64")
    else:
        if length is not None and length != str(size):
            problem(("headers", "content-length"), f'content-length is "{length}" but the body is {size} bytes')
    return problems


def check(root: Path = ROOT) -> list[str]:
    """Every events/<function>/*.json under root, against root/template.yaml: each problem at its file and line."""
    app = load_app(root / "template.yaml")
    functions = {function.code_dir.resolve(): function.logical_id for function in app.functions.values()}
    problems: list[str] = []
    for path in sorted((root / "events").glob("*/*.json")):
        name = str(path.relative_to(root))
        function = functions.get((root / "functions" / path.parent.name).resolve())
        if function is None:
            problems.append(f"{name}: no function in template.yaml has CodeUri functions/{path.parent.name}/")
            continue
        routes = [route for route in app.routes if route.function == function]
        problems += check_event(name, path.read_text(encoding="utf-8"), function, routes)
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(
            f"events/: {len(list((ROOT / 'events').glob('*/*.json')))} sample events, each one of its function's routes"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

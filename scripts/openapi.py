"""`make openapi`: every function's route declarations (apikit.routes) merged into one OpenAPI 3.1 document.

Each function is imported in its own process with exactly the sys.path Lambda would give it (its code, its
requirements, its layers), as the dev server runs it, and describes its own routes (apikit.openapi). From the
merged document come the files below; `--check` fails, listing them, when any is not what the code declares.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devserver.runtime import Dependencies  # noqa: E402
from devserver.template import App, Function, load_app  # noqa: E402

DOCUMENT = ROOT / "docs" / "openapi.json"
SERVED = ROOT / "functions" / "docs" / "openapi.json"  # what GET /api/openapi.json answers
CATCH_ALL_ROUTES = ROOT / "functions" / "not_found" / "routes.json"  # the catch-all's 405 and Allow
METHOD_ORDER = ("get", "head", "post", "put", "patch", "delete")

INFO = {
    "title": "API routes",
    "version": "1.0.0",
    "description": (
        "Every route is its own AWS Lambda function behind an API Gateway HTTP API (template.yaml). "
        "Errors are RFC 9457 problem details (`application/problem+json`). Any other path under /api answers "
        "404, and a known path with another method 405 with `Allow`. Get a bearer token from "
        "`POST /api/auth/signup` or `POST /api/auth/login` and use it with Authorize."
    ),
}

# Runs inside the function's own interpreter: -I -S, so nothing from this venv leaks in.
# A function that imports nothing at all (/api/hello) declares its route as data, `ROUTE = {...}`: the keyword
# arguments of apikit.routes.route, declared here for it.
_DESCRIBE = """
import importlib, json, sys
sys.path[:0] = json.loads(sys.argv[1])
module_name, _, handler_name = sys.argv[2].rpartition(".")
module = importlib.import_module(module_name)
from apikit.openapi import describe
from apikit.routes import DECLARED, route
if hasattr(module, "ROUTE"):
    declaration = dict(module.ROUTE)
    route(None, declaration.pop("methods"), declaration.pop("path"), **declaration)(getattr(module, handler_name))
print(json.dumps(describe(DECLARED)))
"""


def describe_function(function: Function, dependencies: Dependencies) -> dict[str, Any]:
    handler = function.handler.replace("/", ".")
    environment = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "AWS_DEFAULT_REGION": "us-east-1"}
    # The template's rate limit settings decide whether its routes document 429 (and 503 when failing closed).
    environment |= {name: value for name, value in function.environment.items() if name.startswith("RATE_LIMIT")}
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _DESCRIBE, json.dumps(dependencies.python_path(function)), handler],
        capture_output=True,
        text=True,
        env=environment,
        cwd=function.code_dir,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{function.logical_id}: cannot describe its routes:\n{result.stderr.strip()}")
    described: dict[str, Any] = json.loads(result.stdout)
    return described


def _merge(target: dict[str, Any], owners: dict[str, str], source: dict[str, Any], what: str, owner: str) -> None:
    for name, value in source.items():
        if name in target and target[name] != value:
            raise SystemExit(f"{owners[name]} and {owner} declare different {what} named {name!r}: rename one")
        target[name] = value
        owners.setdefault(name, owner)


def check_against_template(function: str, declared: set[tuple[str, str]], routes: set[tuple[str, str]]) -> None:
    """A function declares exactly the routes its template events give it (the catch-all's ANY excepted)."""
    if declared == routes:
        return
    missing = ", ".join(f"{method} {path}" for method, path in sorted(routes - declared))
    extra = ", ".join(f"{method} {path}" for method, path in sorted(declared - routes))
    problems = [f"template.yaml routes {missing} to it, but its code declares no such @route" if missing else ""]
    problems.append(f"its code declares {extra}, which template.yaml does not route to it" if extra else "")
    hint = " (Powertools' own @app.get(...) registers a route without declaring it: use apikit.routes.route)"
    raise SystemExit(f"{function}: " + "; ".join(p for p in problems if p) + (hint if missing else ""))


def build(template: Path) -> dict[str, Any]:
    app = load_app(template)
    dependencies = Dependencies()
    functions = sorted(app.functions.values(), key=lambda function: function.logical_id)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        described = list(pool.map(lambda function: describe_function(function, dependencies), functions))
    return assemble(app, dict(zip((function.logical_id for function in functions), described, strict=True)))


def assemble(app: App, described: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The document from each function's own description (`describe_function`), by the function's logical id."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    security: dict[str, Any] = {}
    owners: dict[str, str] = {}  # what -> the function that declared it first, for the error messages
    for name, part in sorted(described.items()):
        routes = {(r.method, r.path) for r in app.routes if r.function == name and r.method != "ANY"}
        declared = {(method.upper(), path) for path, operations in part["paths"].items() for method in operations}
        check_against_template(name, declared, routes)
        for path, operations in part["paths"].items():
            for method, operation in operations.items():
                route_key = f"{method.upper()} {path}"
                if route_key in owners:
                    raise SystemExit(f"{route_key} is declared by both {owners[route_key]} and {name}")
                operation_id = f"operationId {operation['operationId']}"
                if operation_id in owners:
                    raise SystemExit(
                        f"{owners[operation_id]} and {name} both have a handler named {operation['operationId']!r}: "
                        "the name is the operationId (and the TypeScript operation name), so it must be unique"
                    )
                owners[route_key] = owners[operation_id] = name
                paths.setdefault(path, {})[method] = {**operation, "x-function": name}
        _merge(schemas, owners, part["components"].get("schemas", {}), "schemas", name)
        _merge(security, owners, part["components"].get("securitySchemes", {}), "security schemes", name)
    document: dict[str, Any] = {
        "openapi": "3.1.1",
        "info": INFO,
        "servers": [{"url": "/", "description": "The same origin that serves these docs"}],
        "paths": {
            path: dict(sorted(paths[path].items(), key=lambda item: METHOD_ORDER.index(item[0])))
            for path in sorted(paths)
        },
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": dict(sorted(security.items()))},
    }
    return document


def catch_all_routes(document: dict[str, Any]) -> dict[str, list[str]]:
    return {path: [method.upper() for method in operations] for path, operations in document["paths"].items()}


def stale_catch_all_routes(template: Path, routes_file: Path = CATCH_ALL_ROUTES) -> list[str]:
    """What the catch-all's table says against the template's routes, without describing any function (cheap, so
    `make test` runs it in tests/unit/test_not_found.py): a route added or removed without `make openapi`."""
    routed = {(route.method, route.path) for route in load_app(template).routes if route.method != "ANY"}
    listed = {(method, path) for path, methods in json.loads(routes_file.read_text()).items() for method in methods}
    if routed == listed:
        return []
    missing = ", ".join(f"{method} {path}" for method, path in sorted(routed - listed, key=lambda r: r[::-1]))
    extra = ", ".join(f"{method} {path}" for method, path in sorted(listed - routed, key=lambda r: r[::-1]))
    problems = [f"{template.name} routes {missing}, which it lacks" if missing else ""]
    problems.append(f"it lists {extra}, which {template.name} does not route" if extra else "")
    name = routes_file.resolve().relative_to(template.resolve().parent)
    return [f"{name} is stale: run make openapi (" + "; ".join(p for p in problems if p) + ")"]


def outputs(document: dict[str, Any]) -> dict[Path, str]:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return {DOCUMENT: text, SERVED: text, CATCH_ALL_ROUTES: json.dumps(catch_all_routes(document), indent=2) + "\n"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale; write nothing")
    arguments = parser.parse_args()
    files = outputs(build(arguments.template))
    stale = [path for path, text in files.items() if not path.is_file() or path.read_text() != text]
    if arguments.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run `make openapi`)", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

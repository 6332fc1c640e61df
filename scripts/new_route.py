"""`make route NAME=greet METHOD=GET PATH=/api/greet [AUTH=bearer]`: a new endpoint, as every other one is made.

Writes the four files a route needs, each following the project's conventions, and nothing else by hand:
- functions/<name>/app.py: the handler, declared with apikit.routes.route (its query, or its JSON body, as a
  pydantic model; the bearer token's user with AUTH=bearer), answering 501 until it is written;
- its block in template.yaml: the function with its log group, its rate-limit policy (and the token keys' secret
  with AUTH=bearer), its HttpApi events (GET also answers HEAD); and its name in Fn::ForEach::FunctionOperations,
  which gives it its log group and alarms;
- events/<name>/<method>.json: a sample HTTP API event of the route (`make invoke FN=<name> EVENT=...`);
- tests/unit/test_<name>.py: a test that sends the sample, and fails until the handler answers 200.
Then the Makefile regenerates what is derived from the routes (`make openapi client-types`).

It refuses, changing nothing, a name or a function that exists, and a route (method and path, whatever its
parameters are called) that another function serves.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devserver.template import load_app  # noqa: E402

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WITH_BODY = ("POST", "PUT", "PATCH")
NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
PATH = re.compile(r"/api(/([A-Za-z0-9._~-]+|\{[a-z][a-z0-9_]*\}))+")
FUNCTIONS_END = "  # Every function's log group and its alarm"  # template.yaml: new functions go above this comment
OPERATIONS_LIST = "  Fn::ForEach::FunctionOperations:\n    - Name\n    - ["


class Refused(Exception):
    """Why the route cannot be added; nothing has been written."""


def logical_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def shape(path: str) -> str:
    """The path with its parameters unnamed: API Gateway tells /a/{id} and /a/{post_id} apart by shape alone."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def parameters(path: str) -> list[str]:
    return re.findall(r"\{([a-z][a-z0-9_]*)\}", path)


def check(root: Path, name: str, method: str, path: str) -> None:
    if not NAME.fullmatch(name):
        raise Refused(f"NAME={name!r}: lower case letters, digits and single underscores, starting with a letter")
    if method not in METHODS:
        raise Refused(f"METHOD={method!r}: one of {', '.join(METHODS)} (GET also answers HEAD)")
    if not PATH.fullmatch(path):
        raise Refused(f"PATH={path!r}: /api/ then segments of letters, digits, . _ ~ - or a {{parameter}}")
    if len(set(parameters(path))) != len(parameters(path)):
        raise Refused(f"PATH={path!r} names a parameter twice")
    if (root / "functions" / name).exists():
        raise Refused(f"functions/{name}/ exists already: choose another NAME")
    app = load_app(root / "template.yaml")
    if f"{logical_name(name)}Function" in app.functions:
        raise Refused(f"template.yaml has {logical_name(name)}Function already: choose another NAME")
    for route in app.routes:
        if route.method in (method, "ANY") and shape(route.path) == shape(path) and "+" not in route.path:
            raise Refused(f"{route.method} {route.path} is served by {route.function} already (template.yaml)")


def handler_source(name: str, method: str, path: str, bearer: bool) -> str:
    model = logical_name(name)
    pydantic = "BaseModel, ConfigDict, Field" if method in WITH_BODY else "BaseModel, ConfigDict"
    imports = [
        "from http import HTTPStatus",
        "",
        "from aws_lambda_powertools.event_handler import Response",
        f"from pydantic import {pydantic}",
        "",
    ]
    apikit = ["from apikit.app import create_app, make_handler"]
    if bearer:
        apikit.append("from apikit.auth import Principal")
    apikit.append("from apikit.responses import json_response")
    apikit.append("from apikit.routes import BEARER_AUTH, route" if bearer else "from apikit.routes import route")
    arguments: list[str] = ["user: Principal"] if bearer else []
    arguments += [f"{parameter}: str" for parameter in parameters(path)]
    declaration = [
        f'    "{method}",',
        f'    "{path}",',
        '    summary="TODO: what it does, in one line for the API docs",',
    ]
    if bearer:
        declaration.append("    security=BEARER_AUTH,")
    if method in WITH_BODY:
        kind, model_name = "body", f"{model}Body"
        model_source = f'''class {model_name}(BaseModel):
    """The JSON body: declare its fields. A body that does not fit is a 422 naming the field, before the handler."""

    model_config = ConfigDict(extra="forbid", strict=True)
    message: str = Field(max_length=1000, examples=["Hello"])
'''
    else:
        kind, model_name = "query", f"{model}Query"
        model_source = f'''class {model_name}(BaseModel):
    """The query string: declare each parameter (`name: str = "world"`). A bad one is a 400 naming it."""

    model_config = ConfigDict(extra="ignore")
'''
    declaration.append(f"    {kind}={model_name},")
    arguments.append(f"{kind}: {model_name}")
    return f'''"""{method} {path}: TODO say what it answers."""

{chr(10).join(imports)}
{chr(10).join(apikit)}

app = create_app()


{model_source}

@route(
    app,
{chr(10).join(declaration)}
)
def {name}({", ".join(arguments)}) -> Response[str]:
    # Write the handler here; tests/unit/test_{name}.py fails until it answers 200.
    return json_response({{"message": "{method} {path} is not written yet"}}, HTTPStatus.NOT_IMPLEMENTED)


lambda_handler = make_handler(app)
'''


def template_block(name: str, method: str, path: str, bearer: bool) -> str:
    logical = logical_name(name)
    lines = [
        f"  {logical}Function:",
        "    Type: AWS::Serverless::Function",
        "    Properties:",
        f"      CodeUri: functions/{name}/",
        f"      LoggingConfig: {{LogGroup: !Ref {logical}LogGroup}}",
        "      Policies:",
        "        - !Ref RateLimitPolicy",
    ]
    if bearer:
        keys = "{SecretArn: !Ref JwtPublicKeys}  # verifies tokens; cannot sign one"
        lines.append(f"        - AWSSecretsManagerGetSecretValuePolicy: {keys}")
    lines.append("      Events:")
    events = [method] + (["HEAD"] if method == "GET" else [])
    for event in events:
        properties = f'{{ApiId: !Ref HttpApi, Path: "{path}", Method: {event}}}'
        lines.append(f"        {event.capitalize()}: {{Type: HttpApi, Properties: {properties}}}")
    return "\n".join(lines) + "\n\n"


def sample_event(method: str, path: str, bearer: bool) -> dict[str, object]:
    """An HTTP API payload 2.0 event of the route, from a sample of the project's (the host, ids and headers API
    Gateway sends), with example values for the path's parameters."""
    event: dict[str, object] = json.loads((ROOT / "events" / "posts_create" / "post.json").read_text())
    values = {parameter: f"example-{parameter}" for parameter in parameters(path)}
    raw_path = re.sub(r"\{([^}]+)\}", lambda match: values[match.group(1)], path)
    headers = dict(event["headers"])  # type: ignore[call-overload]
    for header in ("authorization", "content-length", "content-type"):
        headers.pop(header)
    if bearer:
        headers["authorization"] = "Bearer REPLACE_WITH_ACCESS_TOKEN"
    body = None
    if method in WITH_BODY:
        body = json.dumps({"message": "Hello"})
        headers["content-length"] = str(len(body.encode()))
        headers["content-type"] = "application/json"
    context = dict(event["requestContext"])  # type: ignore[call-overload]
    context["http"] = {**context["http"], "method": method, "path": raw_path}
    context["routeKey"] = f"{method} {path}"
    sample: dict[str, object] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": dict(sorted(headers.items())),
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if values:
        sample["pathParameters"] = values
    if body is not None:
        sample["body"] = body
    return sample


def test_source(name: str, method: str, path: str, bearer: bool) -> str:
    sample = f"{name}/{method.lower()}.json"
    imports = "Result, bearer, invoke, load_event" if bearer else "Result, invoke, load_event"
    signed_in = ', headers={"authorization": bearer("alice")}' if bearer else ""
    return f'''"""{method} {path} (functions/{name}/app.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import {imports}


def call(**changes: Any) -> Result:
    """The sample request (events/{sample}) with `changes`: headers={{...}}, body={{...}}, query={{...}}."""
    return invoke("{name}", load_event("{sample}", **changes))


def test_the_sample_request_is_answered(aws):
    result = call({signed_in.removeprefix(", ")})

    assert result.status == 200, result.body
    # Then what a caller would notice: result.json(), result.headers["..."], a bad input's 4xx.
'''


def add_route(root: Path, name: str, method: str, path: str, bearer: bool) -> list[Path]:
    """Write the route's files; return them. Refused (nothing written) if it clashes with what exists."""
    check(root, name, method, path)
    template = (root / "template.yaml").read_text()
    if FUNCTIONS_END not in template or OPERATIONS_LIST not in template:
        raise Refused(f"template.yaml lost its marker {FUNCTIONS_END.strip()!r} or its FunctionOperations list")
    template = template.replace(FUNCTIONS_END, template_block(name, method, path, bearer) + FUNCTIONS_END, 1)
    template = template.replace(OPERATIONS_LIST, f"{OPERATIONS_LIST}{logical_name(name)}, ", 1)
    files = {
        root / "functions" / name / "app.py": handler_source(name, method, path, bearer),
        root / "events" / name / f"{method.lower()}.json": json.dumps(sample_event(method, path, bearer), indent=2)
        + "\n",
        root / "tests" / "unit" / f"test_{name}.py": test_source(name, method, path, bearer),
        root / "template.yaml": template,
    }
    for file, text in files.items():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    # Formatted as `make format` would (a long path or name makes long lines).
    python = [str(file) for file in files if file.suffix == ".py"]
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", *python], cwd=root, check=False)
    return list(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--method", required=True, type=str.upper)
    parser.add_argument("--path", required=True)
    parser.add_argument("--auth", default="", choices=["", "bearer"])
    options = parser.parse_args(argv)
    try:
        written = add_route(ROOT, options.name, options.method, options.path, options.auth == "bearer")
    except Refused as refusal:
        print(f"make route: {refusal}; nothing was written", file=sys.stderr)
        return 2
    for file in written:
        print(f"wrote {file.relative_to(ROOT)}")
    print(
        f"next: write the handler in functions/{options.name}/app.py, then run "
        f"`.venv/bin/python -m pytest tests/unit/test_{options.name}.py` (docs/adding-an-endpoint.md)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

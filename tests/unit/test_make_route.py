"""`make route` (scripts/new_route.py), as docs/adding-an-endpoint.md has a new user run it: three endpoints from
the Next.js documentation (a GET reading its query, a POST echoing its JSON body, a signed-in POST setting a cookie),
each finished with a three-line body, and the checks `make test` runs on a new route then pass with no other file
edited by hand. In a copy of the project, never this checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

LEFT_OUT = {".git", ".venv", "node_modules", "mutants", ".devserver-cache", ".devserver-data", "htmlcov", ".aws-sam"}
LEFT_OUT |= {".venv-tools", ".venv-checkov", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}
ROUTES = [
    ("greet", "GET", "/api/greet", ""),
    ("echo", "POST", "/api/echo", ""),
    ("session_demo", "POST", "/api/session-demo", "bearer"),
]
# What a user writes: the imports the body needs, and the body, in place of the generated `return` and its comment.
BODIES = {
    "greet": (
        "from apikit.validation import query_first",
        """    name = query_first(app.current_event, "name") or "world"
    age = query_first(app.current_event, "age")
    return json_response({"message": f"Hello, {name}", "age": age})""",
    ),
    "echo": (
        "",
        """    text = body.message
    length = len(text)
    return json_response({"echo": text, "length": length})""",
    ),
    "session_demo": (
        "from apikit.cookies import set_cookie",
        """    cookie = set_cookie("demo-session", f"{user.user_id}:{body.message}", max_age=3600)
    answer = {"user": user.user_id, "saved": body.message}
    return json_response(answer, cookies=[cookie])""",
    ),
}
# What `make test` checks of a new route: lint, its own test, every sample event, the template's operations, the
# catch-all's routes, the OpenAPI document and the TypeScript client types.
CHECKS = [
    "tests/unit/test_greet.py",
    "tests/unit/test_echo.py",
    "tests/unit/test_session_demo.py",
    "tests/unit/test_sample_events.py",
    "tests/unit/test_check_operations.py",
    "tests/unit/test_not_found.py",
    "tests/unit/test_openapi_document.py::test_the_document_built_in_this_process_is_the_committed_one",
    "tests/unit/test_client_types.py",
]


def run(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST", "COV_"))}
    if command[0] == "make":
        # .venv and node_modules are this checkout's, linked: make must never reinstall them from the copy (npm ci
        # would empty the real node_modules through the link), whatever the copied files' times say.
        command = ("make", "-o", ".venv/.installed", "-o", "node_modules/.installed", *command[1:])
    return subprocess.run(command, cwd=project, env=environment, capture_output=True, text=True, timeout=300)


def files(project: Path) -> dict[Path, bytes]:
    """Every file of the project's own (not the shared .venv and node_modules), with its content."""
    return {
        path: path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and not {".venv", "node_modules", "__pycache__"} & set(path.parts)
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with the three routes added by `make route` (the last one regenerates)."""
    copy = tmp_path_factory.mktemp("project") / "api-routes"
    shutil.copytree(ROOT, copy, ignore=lambda _, names: [name for name in names if name in LEFT_OUT])
    for shared in (".venv", "node_modules", ".devserver-cache"):  # installed once, as `make` would find them
        (copy / shared).symlink_to(ROOT / shared)
    for number, (name, method, path, auth) in enumerate(ROUTES, 1):
        # Each `make route` regenerates the OpenAPI document and client types; the test does it once, at the end.
        regenerate = [] if number == len(ROUTES) else ["ROUTE_ONLY=1"]
        made = run(
            copy, "make", "route", f"NAME={name}", f"METHOD={method}", f"PATH={path}", f"AUTH={auth}", *regenerate
        )
        assert made.returncode == 0, made.stdout + made.stderr
        assert f"wrote functions/{name}/app.py" in made.stdout
    return copy


def test_a_new_routes_test_fails_until_its_handler_is_written(project):
    answer = run(project, ".venv/bin/python", "-m", "pytest", "-p", "no:cacheprovider", "--no-cov", "-q", *CHECKS[:3])

    assert answer.returncode == 1, answer.stdout
    # One "E" line per test; the short summary may repeat the message or not, depending on the terminal's width.
    failures = re.findall(r"^E +assert <HTTPStatus.NOT_IMPLEMENTED: 501> == 200$", answer.stdout, re.MULTILINE)
    assert len(failures) == 3, answer.stdout


def test_three_routes_each_with_a_three_line_body_pass_the_checks_of_make_test(project):
    for name, (imports, body) in BODIES.items():
        handler = project / "functions" / name / "app.py"
        source = handler.read_text()
        written = re.sub(r"    # Write the handler here.*\n    return json_response\(.*\n", body + "\n", source)
        assert written != source
        handler.write_text(written.replace("\nfrom apikit.app import", f"\n{imports}\nfrom apikit.app import", 1))
    formatted = run(
        project, "make", "format"
    )  # the imports in their place, as a user's editor or `make format` puts them
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr

    # `make lint` on what changed: ruff on everything (a second), mypy strict on the new functions.
    lint = run(project, "make", "lint", "MYPY_PATHS=" + " ".join(f"functions/{name}" for name in BODIES))
    checks = run(project, ".venv/bin/python", "-m", "pytest", "-p", "no:cacheprovider", "--no-cov", "-q", *CHECKS)

    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert checks.returncode == 0, checks.stdout[-4000:]


def test_the_routes_are_in_the_template_the_document_and_the_catch_all(project):
    template = (project / "template.yaml").read_text()
    routes = (project / "functions" / "not_found" / "routes.json").read_text()
    document = (project / "docs" / "openapi.json").read_text()

    assert "- [SessionDemo, Echo, Greet, Graphql, Health," in template  # each with its own log group and alarms
    assert 'Path: "/api/session-demo", Method: POST' in template
    assert (
        "AWSSecretsManagerGetSecretValuePolicy: {SecretArn: !Ref JwtPublicKeys}"
        in template.split("SessionDemoFunction:")[1]
    )
    assert '"/api/greet": [' in routes
    assert '"/api/session-demo": [' in routes
    assert '"/api/echo"' in document
    assert '"EchoBody"' in document


@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        (("NAME=greet", "METHOD=GET", "PATH=/api/greeting"), "functions/greet/ exists already: choose another NAME"),
        (("NAME=hello_again", "METHOD=GET", "PATH=/api/greet"), "GET /api/greet is served by GreetFunction already"),
        (("NAME=post_by_id", "METHOD=DELETE", "PATH=/api/posts/{post_id}"), "DELETE /api/posts/{id} is served by"),
        (("NAME=Greet2", "METHOD=GET", "PATH=/api/x"), "NAME='Greet2': lower case letters"),
        (("NAME=x", "METHOD=TRACE", "PATH=/api/x"), "METHOD='TRACE': one of GET, POST, PUT, PATCH, DELETE"),
        (("NAME=x", "METHOD=GET", "PATH=/x"), "PATH='/x': /api/ then segments"),
        (("NAME=x", "METHOD=GET"), "usage: make route NAME=greet METHOD=GET PATH=/api/greet"),
    ],
)
def test_a_clash_or_a_bad_argument_is_refused_and_writes_nothing(project, arguments, refusal):
    before = files(project)

    refused = run(project, "make", "route", *arguments)

    assert refused.returncode != 0
    assert refusal in refused.stderr
    assert files(project) == before

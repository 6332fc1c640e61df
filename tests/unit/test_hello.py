"""GET /api/hello: the standard library's json and nothing else, so its cold start is the interpreter's."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from typing import Any

from tests.conftest import ROOT, invoke, load_event

FUNCTION = ROOT / "functions" / "hello"
HEAVY = ("boto3", "botocore", "pydantic", "aws_lambda_powertools", "apikit", "requests")


def hello_event() -> dict[str, Any]:
    event = load_event("health/get.json", path="/api/hello")
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /api/hello"
    return event


def test_hello_is_200_with_edge_caching_and_the_request_id():
    event = hello_event()

    result = invoke("hello", event)

    assert result.status == 200
    assert result.json() == {"message": "Hello"}
    assert result.headers["content-type"] == "application/json"
    assert result.headers["cache-control"] == "public, max-age=60, s-maxage=300, stale-while-revalidate=60"
    assert result.headers["x-request-id"] == event["requestContext"]["requestId"]


def test_each_request_gets_its_own_request_id():
    first, second = hello_event(), hello_event()

    ids = [invoke("hello", event).headers["x-request-id"] for event in (first, second)]

    assert ids == [first["requestContext"]["requestId"], second["requestContext"]["requestId"]]


# In a fresh `python -I -S`, as the dev server's workers run: import app.py, call its handler, print what is loaded.
PROBE = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
import app
event = {"requestContext": {"requestId": "probe-1", "http": {"method": "GET", "path": "/api/hello"}}}
response = app.lambda_handler(event, None)
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"status": response["statusCode"], "request_id": response["headers"]["X-Request-Id"], "heavy": heavy}))
"""


def probe(path: list[str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, json.dumps(path), json.dumps(HEAVY)],
        cwd=FUNCTION,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    answer: dict[str, Any] = json.loads(completed.stdout)
    return answer


def test_hello_imports_and_answers_with_only_its_own_directory():
    assert probe([str(FUNCTION)]) == {"status": 200, "request_id": "probe-1", "heavy": []}


def test_the_probe_sees_heavy_modules_where_they_are_importable():
    # The probe below is only worth something if these are importable where it looks: the layer and the packages.
    path = [str(ROOT / "layers" / "shared"), sysconfig.get_paths()["purelib"]]
    imports = "; ".join(f"import {module}" for module in HEAVY)
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = {path!r}; {imports}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr


def test_hello_loads_no_aws_sdk_pydantic_powertools_or_layer_even_where_they_are_importable():
    # As on Lambda: the shared layer is on its path (Globals give every function the layer) and boto3 is in the
    # runtime. Importing and calling hello must still load none of them.
    path = [str(FUNCTION), str(ROOT / "layers" / "shared"), sysconfig.get_paths()["purelib"]]

    assert probe(path)["heavy"] == []

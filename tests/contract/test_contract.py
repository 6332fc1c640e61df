"""docs/openapi.json against the running API: schemathesis' examples, coverage, fuzzing and stateful phases.

Every operation of the document, over HTTP, on a fresh dev server (conftest.py). What is generated and checked is
in schemathesis.toml next to this file. `make test` runs CONTRACT_MAX_EXAMPLES=10 examples per operation, `make fuzz`
200 (FUZZ_EXAMPLES=...); both stop when the examples are spent. A failure prints schemathesis' report: each case
with a curl command that reproduces it against a dev server (`make dev`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devserver.process import DevServerProcess
from tests.contract.conftest import CONFIG, ROOT

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "10"))
# A hard stop for a run that hangs: ten times what a run of this size takes on a busy 2-core machine.
TIMEOUT_SECONDS = int(os.environ.get("CONTRACT_TIMEOUT", str(600 + 10 * MAX_EXAMPLES)))


def test_the_api_keeps_its_openapi_contract(contract_server: DevServerProcess, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run"),
        str(ROOT / "docs" / "openapi.json"),
        *("--url", contract_server.url),
        *("--max-examples", str(MAX_EXAMPLES)),
        # One worker: requests in one order, so the API's state (posts created so far) is the same every run.
        *("--workers", "1"),
        *("--report", "json", "--report-json-path", str(report)),
        "--no-color",
    ]
    # In tmp_path: whatever schemathesis writes stays out of the checkout.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)

    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(output, pytrace=False)
    print(output)  # the summary, for `make fuzz` (pytest -rP) and anyone curious
    assert json.loads(report.read_text())["stop_reason"] == "completed", output

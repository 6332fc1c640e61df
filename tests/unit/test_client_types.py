"""clients/typescript: api.d.ts is what `make client-types` makes of docs/openapi.json, and example.ts type-checks."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
COMMITTED = CLIENT / "api.d.ts"
NODE_MODULES = ROOT / "node_modules"
PINNED = json.loads((ROOT / "package.json").read_text())["devDependencies"]


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    # Not the MAKEFLAGS of a `make test` around us: its jobserver is not ours to join.
    environment = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MFLAGS")}
    return subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module", autouse=True)
def _node_modules() -> None:
    """The pinned openapi-typescript and tsc, installed by `make install` (npm ci), or one clear failure."""
    for tool in ("make", "node"):
        if shutil.which(tool) is None:
            message = f"{tool} is not on PATH: these checks need make and Node.js 20 or newer, then `make install`"
            pytest.fail(message, pytrace=False)
    for package in ("openapi-typescript", "typescript"):
        manifest = NODE_MODULES / package / "package.json"
        if not manifest.is_file():
            pytest.fail(f"node_modules/{package} is missing: run `make install`", pytrace=False)
        installed = json.loads(manifest.read_text())["version"]
        if installed != PINNED[package]:
            pytest.fail(
                f"node_modules has {package} {installed}, package.json pins {PINNED[package]}: run `make install`",
                pytrace=False,
            )


def test_committed_types_are_generated_from_the_document(tmp_path: Path) -> None:
    generated = tmp_path / "api.d.ts"
    # The Makefile's own command, into a temp file; -o: never run npm from a test (the fixture checked the pins).
    make = ["make", "--no-print-directory", "-s", "-o", "node_modules/.installed", "client-types"]
    result = _run([*make, f"CLIENT_TYPES={generated}"])
    assert result.returncode == 0, f"make client-types failed:\n{result.stdout}{result.stderr}"
    expected, committed = generated.read_text(), COMMITTED.read_text() if COMMITTED.exists() else ""
    if committed != expected:
        diff = difflib.unified_diff(
            committed.splitlines(), expected.splitlines(), "committed api.d.ts", "generated", lineterm="", n=1
        )
        pytest.fail(
            "clients/typescript/api.d.ts is not what docs/openapi.json generates: run `make client-types`\n"
            + "\n".join(list(diff)[:40]),
            pytrace=False,
        )


def test_example_type_checks_against_the_types() -> None:
    result = _run([str(NODE_MODULES / ".bin" / "tsc"), "-p", str(CLIENT.relative_to(ROOT)), "--pretty", "false"])
    if result.returncode != 0:
        errors = result.stdout + result.stderr
        pytest.fail(f"clients/typescript/example.ts no longer type-checks against api.d.ts:\n{errors}", pytrace=False)

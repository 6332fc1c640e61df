"""scripts/smoke.py against the dev server, as `make smoke URL=...` runs it against a deployed stack."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT, token

pytestmark = pytest.mark.devserver_only(
    reason="scripts/smoke.py against the dev server, with tokens from `devserver token`"
)


def smoke(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "smoke.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TOKEN": "", **(env or {})},
        check=False,
    )


def test_read_only_without_a_token(api):
    result = smoke(api.url)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" (")[0] for line in lines[:2]] == [
        "ok   GET /api/health -> 200",
        "ok   GET /api/posts?limit=5 -> 200",
    ]
    assert lines[2] == "skip write round trip: no --token or TOKEN"


def test_write_round_trip_with_a_token_leaves_nothing_behind(api):
    result = smoke(api.url + "/", "--token", token("smoke"))
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [line.split(" (")[0] for line in result.stdout.splitlines()]
    post = steps[3].split()[2]
    assert post.startswith("/api/posts/")
    assert steps == [
        "ok   GET /api/health -> 200",
        "ok   GET /api/posts?limit=5 -> 200",
        "ok   POST /api/posts -> 201",
        f"ok   GET {post} -> 200",
        f"ok   DELETE {post} -> 204",
        f"ok   GET {post} -> 404",
    ]
    assert api.get("/api/posts", params={"author": "smoke"}).json()["items"] == []


def test_the_token_can_come_from_the_environment(api):
    result = smoke(api.url, env={"TOKEN": token("smoke-env")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   DELETE /api/posts/" in result.stdout


def test_an_unexpected_status_fails_the_run(api):
    result = smoke(api.url, "--token", "not-a-jwt")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("FAIL POST /api/posts -> 401 (")
    assert "expected 201" in result.stdout


def test_an_unreachable_api_fails_the_run():
    result = smoke("http://127.0.0.1:9", "--timeout", "5")
    assert result.returncode == 1
    assert result.stdout.startswith("FAIL GET /api/health: ")

"""`--persist DIR`: every write that got a 2xx survives `kill -9` of the whole dev server, and a snapshot that cannot
be read whole stops the start with a clear error instead of an empty database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import HIGH_LIMITS, ROOT

pytestmark = pytest.mark.devserver_only(reason="kills and restarts dev servers of its own, reads their --persist files")


def test_every_acknowledged_write_survives_kill_9_of_the_process_group(start_server, tmp_path):
    data = tmp_path / "data"
    first = start_server(ROOT / "template.yaml", "--persist", str(data), *HIGH_LIMITS)
    email = f"persist-{uuid.uuid4().hex}@example.com"
    signup = first.request("POST", "/api/auth/signup", json={"email": email, "password": "pw-" + "x" * 20, "name": "P"})
    assert signup.status_code == 201, signup.text
    bearer = {"Authorization": f"Bearer {signup.json()['access_token']}"}

    def create(number: int) -> str:
        created = first.request("POST", "/api/posts", json={"title": f"Post {number}", "content": "c"}, headers=bearer)
        assert created.status_code == 201, created.text
        return str(created.headers["Location"])

    with ThreadPoolExecutor(8) as pool:  # concurrent writes: several share one snapshot (group commit)
        locations = list(pool.map(create, range(16)))
    patched = first.request(
        "PATCH",
        locations[0],
        json={"content": "edited"},
        headers={**bearer, "If-Match": '"v1"', "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    deleted = first.request("DELETE", locations[1], headers=bearer)
    assert deleted.status_code == 204, deleted.text
    cookie = signup.headers["Set-Cookie"].split(";", 1)[0]
    refreshed = first.request("POST", "/api/auth/refresh", headers={"Cookie": cookie})
    assert refreshed.status_code == 200, refreshed.text  # a session rotated: its new refresh token saved too
    rotated = refreshed.headers["Set-Cookie"].split(";", 1)[0]

    os.killpg(first.process.pid, signal.SIGKILL)  # server, moto and workers: no shutdown, no final snapshot
    first.process.wait(timeout=10)
    assert "Saved data" not in first.output()

    second = start_server(ROOT / "template.yaml", "--persist", str(data), *HIGH_LIMITS)
    edited = second.get(locations[0])
    assert (edited.status_code, edited.json()["content"], edited.headers["ETag"]) == (200, "edited", '"v2"')
    assert second.get(locations[1]).status_code == 404  # an acknowledged delete stays deleted
    for location in locations[2:]:
        assert second.get(location).status_code == 200, location
    assert second.request("POST", "/api/auth/refresh", headers={"Cookie": rotated}).status_code == 200
    login = second.request("POST", "/api/auth/login", json={"email": email, "password": "pw-" + "x" * 20})
    assert login.status_code == 200, login.text


def start_with(data: os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    """A dev server start that is expected to stop before it serves (port 0: nothing is ever bound for long)."""
    return subprocess.run(
        [sys.executable, "-m", "devserver", "--persist", str(data), "--port", "0", "--no-reload"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


GOOD = {"format": 1, "tables": {"PostsTable": [{"id": {"S": "a"}}]}, "buckets": {}}


# Every kind of unreadable file is in tests/unit/test_devserver_persist.py; here, two, through the command line.
@pytest.mark.parametrize(
    ("content", "said"),
    [
        pytest.param(json.dumps(GOOD)[:-7], "it ends before the JSON does (truncated?)", id="truncated"),
        pytest.param(
            '{"tables": [], "buckets": {}}', 'it is JSON, but not {"tables": {...}, "buckets": {...}}', id="wrong-shape"
        ),
    ],
)
def test_an_unreadable_snapshot_stops_the_start_and_says_how_to_start_over(tmp_path, content, said):
    data = tmp_path / "data"
    data.mkdir()
    snapshot = data / "snapshot.json"
    snapshot.write_text(content)

    result = start_with(data)

    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert f"error: {snapshot} is not a usable snapshot: {said}" in output
    assert f"mv {snapshot} {snapshot}.broken" in output
    assert "Running on" not in output
    assert snapshot.read_text() == content  # left as it was, for whoever wants to repair it

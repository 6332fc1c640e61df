"""Start the real dev server (`python -m devserver`) on a free port and talk HTTP to it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devserver.process import DevServerProcess

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "project"
# The functional tests send many requests from one address: they run with limits far above that, still counted
# (test_rate_limits.py runs the template's own limits).
HIGH_LIMITS = (
    "--parameter-overrides",
    "RateLimit=1000000/minute",
    "--env-vars",
    str(Path(__file__).resolve().parent / "high-limits.json"),
)


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class DevServer(DevServerProcess):
    """The dev server with requests-based helpers."""

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(method, self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the small test project, free to edit."""
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target)
    return target


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[object]:
    servers: list[DevServer] = []

    def start(template: Path, *args: str) -> DevServer:
        server = DevServer(template, tmp_path / f"devserver-{len(servers)}.log", *args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """The real template.yaml, served once for a whole test module."""
    server = DevServer(ROOT / "template.yaml", tmp_path_factory.mktemp("api") / "devserver.log", *HIGH_LIMITS)
    yield server
    server.stop()


def run_invoke(function: str, event: Path, template: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m devserver invoke`, as `make invoke` runs it."""
    where = ["--template", str(template)] if template else []
    return subprocess.run(
        [sys.executable, "-m", "devserver", "invoke", function, "-e", str(event), *where],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def template_of(server: DevServerProcess) -> Path:
    return Path(server.process.args[server.process.args.index("--template") + 1])


def token(user_id: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "devserver", "token", user_id], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()

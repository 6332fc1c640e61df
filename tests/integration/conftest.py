"""Start the real dev server (`python -m devserver`) on a free port and talk HTTP to it, or, with API_BASE_URL set,
talk HTTP to that API instead (a deployed stack, or `sam local start-api`): see the README's "One suite, three
targets"."""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devserver.process import DevServerProcess

ROOT = Path(__file__).resolve().parents[2]
PROJECT = Path(__file__).resolve().parent / "project"
# Unset: the `api` fixture starts a dev server. Set: it is that API, which only the tests that run on every target
# (test_any_target.py) talk to; every module that needs the dev server itself is marked devserver_only.
API_BASE_URL = os.environ.get("API_BASE_URL", "").rstrip("/")
# What answers at API_BASE_URL: API Gateway ("deployed", the default) or `sam local start-api` ("sam-local"), whose
# known differences (docs/sam-local.md) skip the tests marked not_on_sam_local.
API_TARGET = os.environ.get("API_TARGET") or ("deployed" if API_BASE_URL else "devserver")
TARGETS = {"devserver": False, "deployed": True, "sam-local": True}  # each target, and whether it needs API_BASE_URL
SAM_LOCAL_DIFFERENCES = ROOT / "docs" / "sam-local.md"
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


class Http:
    """requests against `url`: what every HTTP test calls, whichever target answers."""

    url: str

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]

    def request(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(method, self.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


class DevServer(Http, DevServerProcess):
    """The dev server with requests-based helpers."""


class RemoteApi(Http):
    """An API the tests did not start and cannot look inside: only its HTTP answers."""

    def __init__(self, url: str) -> None:
        self.url = url


def pytest_configure(config: pytest.Config) -> None:
    if API_TARGET not in TARGETS:
        raise pytest.UsageError(f"API_TARGET={API_TARGET}: choose one of {', '.join(TARGETS)}")
    if TARGETS[API_TARGET] != bool(API_BASE_URL):
        raise pytest.UsageError(
            f"API_TARGET={API_TARGET} {'needs' if TARGETS[API_TARGET] else 'takes no'} API_BASE_URL"
        )


@pytest.hookimpl(tryfirst=True)  # before any fixture: a skipped module never starts its dev server
def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers("not_on_sam_local"):
        (difference,) = marker.args
        if difference not in sam_local_differences():
            pytest.fail(f"not_on_sam_local({difference!r}): docs/sam-local.md has no heading with that anchor")
        if API_TARGET == "sam-local":
            pytest.skip(f"sam local start-api differs here: docs/sam-local.md#{difference}")
    only = item.get_closest_marker("devserver_only")
    if only is not None and API_BASE_URL:
        pytest.skip(f"needs the dev server itself ({only.kwargs['reason']}), not {API_TARGET} at API_BASE_URL")


@functools.cache
def sam_local_differences() -> frozenset[str]:
    """The anchors of docs/sam-local.md's headings, as GitHub makes them."""
    headings = re.findall(r"^#+ (.+)$", SAM_LOCAL_DIFFERENCES.read_text(), flags=re.MULTILINE)
    return frozenset(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings)


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
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    """The real template.yaml, served once for a whole test module; or, with API_BASE_URL set, that API."""
    if API_BASE_URL:
        yield RemoteApi(API_BASE_URL)
        return
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


def assert_problem(response: requests.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem+json answer with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def token(user_id: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "devserver", "token", user_id], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()

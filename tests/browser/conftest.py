"""A real browser (Debian's chromium, driven by Playwright) against the real dev server over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.integration.conftest import api  # noqa: F401 (the dev server fixture, shared with the integration tests)

CHROMIUM = Path("/usr/bin/chromium")
# Playwright's own browser download is not used: the system's chromium is. With the network closed, these
# flags stop it from calling home (and flooding the log with refused connections).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for the whole module; each test opens its own context (no shared cookies or storage)."""
    if not CHROMIUM.is_file():
        missing = f"chromium not found at {CHROMIUM}: apt-get install chromium to run the browser tests"
        if os.environ.get("REQUIRE_BROWSER") == "1":  # CI (.ci/run): a browser test never silently skipped there
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()

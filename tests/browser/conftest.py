"""A real browser (Debian's chromium, driven by Playwright) against the real dev server over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Response, sync_playwright

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


# Collected in the page itself, before any of its scripts run: the browser's own report of what the CSP refused.
CATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.effectiveDirective} refused ${event.blockedURI || "inline"}`);
});
"""
TIMEOUT_MS = 15_000


@dataclass
class Watched:
    """A page in a fresh browser context, and everything that went wrong in it: console errors and warnings,
    uncaught errors, failed requests (in `problems`) and CSP violations (`violations()`)."""

    context: BrowserContext
    page: Page
    problems: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Browser, url: str) -> tuple[Watched, Response]:
        """Open `url` in a new context, watched from before its first script; the page's answer, checked to be a
        200 under the policy the unit tests check (script-src 'self'), not under a relaxed one."""
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(CATCH_VIOLATIONS)
        watched = cls(context, context.new_page())

        def on_console(message: ConsoleMessage) -> None:
            if message.type in {"error", "warning"}:
                watched.problems.append(f"console {message.type}: {message.text}")

        watched.page.on("console", on_console)
        watched.page.on("pageerror", lambda error: watched.problems.append(f"uncaught: {error}"))
        watched.page.on(
            "requestfailed", lambda request: watched.problems.append(f"failed: {request.url} {request.failure}")
        )
        answer = watched.page.goto(url)
        assert answer is not None
        assert answer.status == 200
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        return watched, answer

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__violations")
        return found

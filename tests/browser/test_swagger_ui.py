"""Swagger UI at /api/docs in a real browser, under its real Content-Security-Policy, against the dev server.

What a developer does with it: open the page, Authorize with a token from signup, and Try it out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Watched
from tests.integration.conftest import DevServer


class Docs(Watched):
    """The docs page in a fresh browser context, and everything that went wrong in it."""

    def operation(self, element_id: str) -> Locator:
        """An operation expanded, in "Try it out" mode (ids are Swagger UI's: operations-<tag>-<operationId>)."""
        block = self.page.locator(f"#{element_id}")
        block.locator(".opblock-summary").click()
        block.get_by_role("button", name="Try it out").click()
        return block

    def execute(self, block: Locator) -> Locator:
        """Execute, then the rendered live response (status code cell and body)."""
        block.get_by_role("button", name="Execute").click()
        response = block.locator(".live-responses-table .response")
        expect(response).to_be_visible()
        return response

    def assert_clean(self, expected: str | None = None) -> None:
        """No CSP violation at all, and no console error, uncaught error or failed request but the expected one."""
        assert self.violations() == []
        assert [problem for problem in self.problems if expected is None or expected not in problem] == []


def transferred(page: Page) -> dict[str, int]:
    """Bytes each file of the page took over the network (0 when the browser's cache answered), by name."""
    entries = page.evaluate("performance.getEntriesByType('resource').map((entry) => [entry.name, entry.transferSize])")
    return {url.split("?")[0].rsplit("/", 1)[-1]: size for url, size in entries}


@pytest.fixture
def docs(browser: Browser, api: DevServer) -> Iterator[Docs]:
    opened, _ = Docs.open(browser, api.url + "/api/docs")
    expect(opened.page.locator(".opblock-tag-section").first).to_be_visible()
    yield opened
    opened.context.close()


@pytest.fixture
def user(api: DevServer) -> dict[str, str]:
    """A new account, signed up over HTTP: its email and a real access token."""
    email = f"docs-{uuid.uuid4().hex[:12]}@example.com"
    answer = api.request(
        "POST", "/api/auth/signup", json={"email": email, "password": "correct horse battery", "name": "Docs Reader"}
    )
    assert answer.status_code == 201, answer.text
    return {"email": email, "token": answer.json()["access_token"]}


def test_the_page_renders_every_operation_without_a_csp_violation_or_console_error(docs):
    paths = docs.page.locator(".opblock-summary-path").all_inner_texts()

    assert {"/api/auth/me", "/api/posts", "/api/posts/{id}", "/api/health", "/api/docs"} <= {
        path.replace("\u200b", "")
        for path in paths  # Swagger UI puts zero-width spaces after each "/"
    }
    expect(docs.page.locator(".info .title")).to_contain_text("API routes")
    docs.assert_clean()


def test_a_reload_takes_swagger_ui_from_the_cache_and_only_revalidates_the_document(docs):
    first = transferred(docs.page)
    docs.page.reload()
    expect(docs.page.locator(".opblock-tag-section").first).to_be_visible()
    again = transferred(docs.page)

    # The first visit gets Swagger UI gzipped (1.7 MB of script arrives as ~460 KB) ...
    assert 0 < first["swagger-ui-bundle.js"] < 600_000
    # ... and a reload fetches none of it again (a year under its versioned URL), while the document is asked
    # for with its ETag and answered 304, with no body.
    assert again["swagger-ui-bundle.js"] == again["swagger-ui.css"] == again["initializer.js"] == 0
    assert 0 < again["openapi.json"] < 1_000
    docs.assert_clean()


def test_authorize_with_a_signup_token_then_get_me_shows_the_user(docs, user):
    page = docs.page
    page.locator(".auth-wrapper .authorize").click()
    bearer = page.locator(".modal-ux .auth-container").filter(has_text="bearerAuth")
    bearer.get_by_label("auth-bearer-value").fill(user["token"])
    bearer.get_by_role("button", name="Apply credentials").click()
    expect(bearer.get_by_role("button", name="Remove authorization")).to_be_visible()
    bearer.get_by_role("button", name="Close").click()
    expect(page.locator(".modal-ux")).to_be_hidden()

    response = docs.execute(docs.operation("operations-auth-me"))

    expect(response.locator(".response-col_status")).to_have_text("200")
    expect(response.locator(".response-col_description")).to_contain_text(f'"email": "{user["email"]}"')
    docs.assert_clean()


def test_without_authorize_get_me_shows_401(docs):
    response = docs.execute(docs.operation("operations-auth-me"))

    expect(response.locator(".response-col_status")).to_have_text("401")
    expect(response.locator(".response-col_description")).to_contain_text('"title": "Unauthorized"')
    # The browser itself logs the 401 it fetched; nothing else may go wrong.
    docs.assert_clean(expected="the server responded with a status of 401")

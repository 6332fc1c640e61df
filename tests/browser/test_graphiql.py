"""GraphiQL at /api/graphql in a real browser, under its real Content-Security-Policy, against the dev server.

What a developer does with it: open the URL, write a query, run it; sign in through the headers editor.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.browser.conftest import Watched
from tests.browser.test_swagger_ui import transferred
from tests.integration.conftest import DevServer

QUERY = "{ posts(first: 1) { nodes { id title } } }"


class Ide(Watched):
    """The GraphiQL page in a fresh browser context, and everything that went wrong in it."""

    def editor(self, label: str) -> Locator:
        """The query editor, or the variables or headers one: GraphiQL's sections are labelled "Query Editor" and
        "Variables" or "Headers" (the tab showing), the latter holding both editors, one of them hidden."""
        return self.page.locator(f'section[aria-label="{label}"] .CodeMirror').filter(visible=True)

    def write(self, label: str, text: str) -> None:
        """Replace an editor's text as pasting would: typed key by key, CodeMirror would close brackets itself."""
        self.editor(label).click()
        self.page.keyboard.press("ControlOrMeta+A")
        self.page.keyboard.insert_text(text)
        expect(self.editor(label)).to_contain_text(text.splitlines()[0])

    def run(self, query: str) -> Locator:
        """Write the query, run it with the toolbar's button, and return the result pane once it has an answer."""
        self.write("Query Editor", query)
        self.page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
        result = self.page.locator("section.result-window .CodeMirror")
        expect(result).to_contain_text('"data"')
        return result

    def assert_clean(self) -> None:
        """No CSP violation at all, and no console error or warning, uncaught error or failed request."""
        assert self.violations() == []
        assert self.problems == []


@pytest.fixture
def ide(browser: Browser, api: DevServer) -> Iterator[Ide]:
    # A navigation: chromium sends its own Accept (text/html first), as when a developer opens the URL.
    opened, answer = Ide.open(browser, api.url + "/api/graphql")
    assert answer.request.all_headers()["accept"].startswith("text/html")
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    expect(opened.editor("Query Editor")).to_be_visible()
    # GraphiQL has the schema (its introspection query went through the same fetcher): the docs list Query.
    opened.page.get_by_role("button", name="Show Documentation Explorer").click()
    expect(opened.page.locator(".graphiql-doc-explorer")).to_contain_text("Query")
    yield opened
    opened.context.close()


@pytest.fixture
def token(api: DevServer) -> tuple[str, str]:
    """A new account, signed up over HTTP: its email and a real access token."""
    email = f"graphiql-{uuid.uuid4().hex[:12]}@example.com"
    answer = api.request(
        "POST", "/api/auth/signup", json={"email": email, "password": "correct horse battery", "name": "IDE User"}
    )
    assert answer.status_code == 201, answer.text
    return email, answer.json()["access_token"]


def test_a_query_runs_and_its_result_shows_without_a_csp_violation_or_console_error(ide):
    result = ide.run(QUERY)

    expect(result).to_contain_text('"posts"')
    expect(result).to_contain_text('"nodes"')
    expect(result).not_to_contain_text('"errors"')
    ide.assert_clean()


def test_the_headers_editor_signs_the_queries_in(ide, token):
    email, access_token = token

    anonymous = ide.run("{ me { email } }")
    expect(anonymous).to_contain_text("UNAUTHENTICATED")

    ide.page.get_by_role("button", name="Headers").click()
    ide.write("Headers", json.dumps({"Authorization": f"Bearer {access_token}"}))
    signed_in = ide.run("{ me { email } }")

    expect(signed_in).to_contain_text(email)
    expect(signed_in).not_to_contain_text('"errors"')
    ide.assert_clean()


def test_the_dialogs_open_under_the_policy(ide):
    """They add a scroll-lock stylesheet to the page, which the policy allows by its hash alone."""
    for dialog in ("Open settings dialog", "Open short keys dialog"):
        ide.page.get_by_role("button", name=dialog).click()
        expect(ide.page.get_by_role("dialog")).to_be_visible()
        ide.page.keyboard.press("Escape")
        expect(ide.page.get_by_role("dialog")).to_be_hidden()
    ide.assert_clean()


def test_a_reload_takes_graphiql_from_the_cache(ide):
    first = transferred(ide.page)
    ide.page.reload()
    expect(ide.editor("Query Editor")).to_be_visible()
    again = transferred(ide.page)

    # The first visit gets GraphiQL gzipped (~1 MB of script arrives as a fraction of it) ...
    assert 0 < first["graphiql.min.js"] < 400_000
    # ... and a reload fetches none of its files again: a year under their versioned URLs.
    assert {name: again[name] for name in ("graphiql.min.js", "graphiql.min.css", "initializer.js")} == {
        "graphiql.min.js": 0,
        "graphiql.min.css": 0,
        "initializer.js": 0,
    }
    ide.assert_clean()

"""GraphiQL on GET /api/graphql (functions/graphql/ide.py), called directly: the page, its files, when it is served."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.errors import NotFound
from tests.conftest import ROOT, assert_problem, invoke_fresh_app, load_event, load_function
from tests.unit.test_docs import PageParser, directives

FUNCTION = ROOT / "functions" / "graphql"
VENDORED = FUNCTION / "graphiql"
ide = load_function("graphql").ide  # as app.py imports it, with the function's directory on sys.path

# Each file `make graphiql` copies, and where it comes from in node_modules.
VENDORED_FROM = {
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "LICENSE.graphiql": "graphiql/LICENSE",
    "LICENSE.react": "react/LICENSE",
    "LICENSE.react-dom": "react-dom/LICENSE",
}
JAVASCRIPT, CSS = "text/javascript; charset=utf-8", "text/css; charset=utf-8"
ALLOWED = {
    "react.production.min.js": (JAVASCRIPT, VENDORED / "react.production.min.js"),
    "react-dom.production.min.js": (JAVASCRIPT, VENDORED / "react-dom.production.min.js"),
    "graphiql.min.js": (JAVASCRIPT, VENDORED / "graphiql.min.js"),
    "graphiql.min.css": (CSS, VENDORED / "graphiql.min.css"),
    "initializer.js": (JAVASCRIPT, FUNCTION / "initializer.js"),
    "page.css": (CSS, FUNCTION / "page.css"),
}
CHROME = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(autouse=True)
def graphiql_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the dev server (GRAPHIQL=auto there, with AWS_SAM_LOCAL=true); the tests of enabled() set their own."""
    monkeypatch.setenv("GRAPHIQL", "on")


def request(method: str = "GET", accept: str | None = CHROME, **changes: Any) -> APIGatewayProxyEventV2:
    """A request to /api/graphql (a browser's GET by default); `headers` and `query` as tests.conftest.load_event."""
    event = load_event("docs/page.json", path="/api/graphql", method=method, **changes)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} /api/graphql"
    if accept is None:
        event["headers"].pop("accept")
    else:
        event["headers"]["accept"] = accept
    return APIGatewayProxyEventV2(event)


def body_bytes(response: Response[Any]) -> bytes:
    """The bytes the browser receives, once API Gateway has decoded a base64 body and the browser gunzipped it."""
    raw = base64.b64decode(response.body) if response.base64_encoded else response.body.encode()
    return gzip.decompress(raw) if response.headers.get("Content-Encoding") == "gzip" else raw


def parsed_page() -> tuple[Response[Any], PageParser]:
    response = ide.page(request())
    parser = PageParser()
    parser.feed(body_bytes(response).decode())
    return response, parser


# --- the page -------------------------------------------------------------------------------------------


def test_the_page_is_html_with_a_strict_content_security_policy():
    response, _ = parsed_page()

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    policy = directives(str(response.headers["Content-Security-Policy"]))
    assert policy == {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        # GraphiQL's dialogs' scroll lock (functions/graphql/ide.py), by its hash: no 'unsafe-inline'.
        "style-src": ["'self'", "'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='"],
        "img-src": ["'self'", "data:"],
        "font-src": ["data:"],
        "connect-src": ["'self'"],
        "form-action": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }


def test_the_page_varies_on_accept_since_the_same_url_answers_graphql_clients_with_json():
    response, _ = parsed_page()

    assert "Accept" in [name.strip() for name in str(response.headers["Vary"]).split(",")]


def test_the_page_has_no_inline_script_style_or_handler_that_the_policy_would_block():
    _, parsed = parsed_page()

    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts
    assert all(attrs.get("src") for attrs in scripts)
    assert parsed.script_text == ""
    assert not any(tag == "style" for tag, _ in parsed.tags)
    assert not any(name == "style" or name.startswith("on") for _, attrs in parsed.tags for name in attrs)


def test_every_file_the_page_links_is_served_under_its_hash_and_cacheable_for_a_year():
    _, parsed = parsed_page()
    links = [attrs for tag, attrs in parsed.tags if tag == "link"]
    # An empty icon, so that the browser asks for no /favicon.ico (a 404 in its console).
    assert [attrs["href"] for attrs in links if attrs["rel"] == "icon"] == ["data:,"]
    linked = [attrs.get("src") or attrs.get("href") for tag, attrs in parsed.tags if tag == "script"]
    linked += [attrs["href"] for attrs in links if attrs["rel"] == "stylesheet"]

    assert len(linked) == len(ALLOWED)
    for url in linked:
        assert url is not None
        path, _, query = url.partition("?")
        name = path.removeprefix("/api/graphql/ide/")
        assert name in ALLOWED, url
        response = ide.asset(name, request(query=dict([query.split("=")])))
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == IMMUTABLE
        assert response.headers["Content-Type"] == ALLOWED[name][0]
        assert body_bytes(response) == ALLOWED[name][1].read_bytes()


def test_the_scripts_load_react_then_graphiql_then_ours_which_posts_json_to_the_endpoint():
    _, parsed = parsed_page()

    scripts = [str(attrs["src"]).split("?")[0].rsplit("/", 1)[-1] for tag, attrs in parsed.tags if tag == "script"]
    assert scripts == ["react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "initializer.js"]
    root = next(attrs for _, attrs in parsed.tags if attrs.get("id") == "graphiql")
    assert root["data-url"] == "/api/graphql" == ide.PAGE_PATH
    initializer = (FUNCTION / "initializer.js").read_text()
    assert "root.dataset.url" in initializer
    assert 'method: "POST"' in initializer
    assert '"application/graphql-response+json, application/json"' in initializer
    assert 'headers.set("Content-Type", "application/json")' in initializer


def test_the_page_answers_304_while_unchanged_with_its_policy():
    first = ide.page(request())

    again = ide.page(request(headers={"if-none-match": first.headers["ETag"]}))

    assert again.status_code == 304
    assert again.body == ""
    assert again.headers["ETag"] == first.headers["ETag"]
    assert "Content-Security-Policy" in again.headers


# --- the files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_an_allowed_file_without_its_version_is_served_but_revalidated(name):
    response = ide.asset(name, request(headers={"accept-encoding": None}))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert body_bytes(response) == ALLOWED[name][1].read_bytes()


def test_graphiql_goes_gzipped_to_a_browser():
    response = ide.asset("graphiql.min.js", request(headers={"accept-encoding": "gzip, deflate, br, zstd"}))

    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert len(base64.b64decode(str(response.body))) < (VENDORED / "graphiql.min.js").stat().st_size / 3
    assert body_bytes(response) == (VENDORED / "graphiql.min.js").read_bytes()


@pytest.mark.parametrize(
    "name",
    [
        "ide.py",  # our own source, next to the files
        "app.py",
        "LICENSE.graphiql",  # vendored, but not part of the page
        "graphiql.min.js.map",
        "graphiql.js",
        "index.html",
        "GRAPHIQL.MIN.JS",
        "../ide.py",
        "graphiql/graphiql.min.js",
        "/etc/passwd",
        "page.css\x00",
        "..",
        "",
    ],
)
def test_any_other_name_is_not_found(name):
    with pytest.raises(NotFound):
        ide.asset(name, request())


def test_an_unknown_file_is_a_404_problem_in_an_app():
    result = invoke_fresh_app(lambda: ide.asset("app.py", request()), path="/api/graphql/ide/app.py")

    assert_problem(result, 404, "/api/graphql/ide/app.py")


# --- when it is served ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("graphiql", "sam_local", "expected"),
    [
        (None, "true", True),  # the dev server and `sam local`
        (None, None, False),  # Lambda
        ("auto", "true", True),
        ("auto", None, False),
        ("", "true", True),  # an empty template value is the default
        ("auto", "false", False),
        ("on", None, True),
        ("on", "true", True),
        ("off", "true", False),
        ("off", None, False),
    ],
)
def test_enabled_by_default_only_where_aws_sam_local_is_true(monkeypatch, graphiql, sam_local, expected):
    for name, value in {"GRAPHIQL": graphiql, "AWS_SAM_LOCAL": sam_local}.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)

    assert ide.enabled() is expected


@pytest.mark.parametrize("call", [lambda: ide.page(request()), lambda: ide.asset("graphiql.min.js", request())])
def test_off_the_page_and_its_files_are_not_found_whatever_route_calls_them(monkeypatch, call):
    monkeypatch.setenv("GRAPHIQL", "off")

    with pytest.raises(NotFound):
        call()


@pytest.mark.parametrize("value", ["yes", "true", "ON", "1"])
def test_any_other_setting_is_an_error_not_a_guess(monkeypatch, value):
    monkeypatch.setenv("GRAPHIQL", value)

    with pytest.raises(ValueError, match="GRAPHIQL"):
        ide.enabled()


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (CHROME, True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # Firefox
        ("text/html", True),
        ("text/*", True),
        ("application/json;q=0.5, text/html", True),
        ("TEXT/HTML; q=1.0, application/json; q=0.9", True),
        (None, False),  # no Accept: any type will do, so a GraphQL client's
        ("", False),
        ("*/*", False),  # curl, fetch(): a tie goes to GraphQL
        ("text/html, */*", False),
        ("application/json", False),
        ("application/graphql-response+json, application/json;q=0.9", False),
        ("text/html;q=0.5, application/json", False),
        ("text/html;q=0.8, application/graphql-response+json", False),
        ("text/html;q=0", False),
        ("text/html;q=x", False),
        ("text/html;q=0.9, application/*;q=1", False),
        ("application/xml, text/plain", False),
    ],
)
def test_wants_ide_when_accept_prefers_html_to_graphql_json(accept, expected):
    assert ide.wants_ide(request(accept=accept)) is expected


def test_wants_ide_never_for_a_post_or_a_query_in_the_url():
    assert not ide.wants_ide(request("POST"))
    assert ide.wants_ide(request("HEAD"))  # answered as GET is, without the body
    assert not ide.wants_ide(request(query={"query": "{__typename}"}))
    assert ide.wants_ide(request(query={"v": "1"}))


# --- the vendored copies --------------------------------------------------------------------------------


def test_the_vendored_files_are_the_pinned_npm_packages():
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    for package in ("graphiql", "react", "react-dom"):
        manifest = ROOT / "node_modules" / package / "package.json"
        assert manifest.is_file(), "node_modules is missing: run `make node_modules/.installed`"
        installed = json.loads(manifest.read_text())["version"]
        assert installed == pinned[package], f"node_modules has {package} {installed}, package.json pins it: npm ci"

    assert {path.name for path in VENDORED.iterdir()} == set(VENDORED_FROM)
    stale = sorted(
        name
        for name, source in VENDORED_FROM.items()
        if (VENDORED / name).read_bytes() != (ROOT / "node_modules" / source).read_bytes()
    )
    assert not stale, f"functions/graphql/graphiql/ is not what package.json pins ({stale}): run `make graphiql`"


def test_the_allow_list_is_the_files_tested_here_and_all_but_ours_are_vendored():
    assert set(ide.ASSETS) == set(ALLOWED)
    assert {name for name, (_, path) in ALLOWED.items() if path.parent != VENDORED} == {"initializer.js", "page.css"}
    assert {name for name, (_, path) in ALLOWED.items() if path.parent == VENDORED} <= set(VENDORED_FROM)

"""GET /api/openapi.json, /api/docs and /api/docs/{asset}: what a browser and a cache get, and what nobody gets."""

from __future__ import annotations

import base64
import gzip
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tests.conftest import ROOT, Result, assert_problem, invoke, load_event, load_function

DOCS = ROOT / "functions" / "docs"
VENDORED = DOCS / "swagger-ui"
NPM_PACKAGE = ROOT / "node_modules" / "swagger-ui-dist"
# What `make swagger-ui` copies: the files the page loads, and the licences that travel with them.
VENDORED_FILES = {
    "swagger-ui-bundle.js",
    "swagger-ui.css",
    "favicon-32x32.png",
    "LICENSE",
    "NOTICE",
    "swagger-ui-bundle.js.LICENSE.txt",
}
ALLOWED = {
    "swagger-ui-bundle.js": ("text/javascript; charset=utf-8", VENDORED / "swagger-ui-bundle.js"),
    "swagger-ui.css": ("text/css; charset=utf-8", VENDORED / "swagger-ui.css"),
    "favicon-32x32.png": ("image/png", VENDORED / "favicon-32x32.png"),
    "initializer.js": ("text/javascript; charset=utf-8", DOCS / "initializer.js"),
}


def asset_event(raw_name: str, decoded: str | None = None, **changes: Any) -> dict[str, Any]:
    """GET /api/docs/<raw_name> as API Gateway sends it: the raw path as typed, the path parameter decoded."""
    event = load_event("docs/asset.json", path=f"/api/docs/{raw_name}", **changes)
    event["pathParameters"] = {"asset": decoded if decoded is not None else raw_name}
    return event


def get_asset(raw_name: str, **changes: Any) -> Result:
    return invoke("docs", asset_event(raw_name, **changes))


def body_bytes(result: Result) -> bytes:
    """The bytes the client receives, once API Gateway has decoded a base64 body."""
    raw = base64.b64decode(result.body) if result.raw["isBase64Encoded"] else result.body.encode()
    return gzip.decompress(raw) if result.headers.get("content-encoding") == "gzip" else raw


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text += data.strip()


def page() -> tuple[Result, PageParser]:
    result = invoke("docs", load_event("docs/page.json"))
    parser = PageParser()
    parser.feed(body_bytes(result).decode())
    return result, parser


# --- the page -------------------------------------------------------------------------------------------


def test_the_page_is_html_with_a_strict_content_security_policy():
    result, _ = page()

    assert result.status == 200
    assert result.headers["content-type"] == "text/html; charset=utf-8"
    assert result.headers["x-content-type-options"] == "nosniff"
    policy = directives(result.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    assert not any("unsafe" in source or "*" in source for sources in policy.values() for source in sources)


def test_the_page_has_no_inline_script_style_or_handler_that_the_policy_would_block():
    _, parsed = page()

    scripts = [attrs for tag, attrs in parsed.tags if tag == "script"]
    assert scripts
    assert all(attrs.get("src") for attrs in scripts)
    assert parsed.script_text == ""
    assert not any(tag == "style" for tag, _ in parsed.tags)
    assert not any(name == "style" or name.startswith("on") for _, attrs in parsed.tags for name in attrs)


def test_every_file_the_page_links_is_served_and_cacheable_for_a_year():
    _, parsed = page()
    linked = [attrs.get("src") or attrs.get("href") for tag, attrs in parsed.tags if tag in {"script", "link"}]

    assert len(linked) == 4
    for url in linked:
        assert url is not None
        path, _, query = url.partition("?")
        name = path.removeprefix("/api/docs/")
        assert name in ALLOWED, url
        result = get_asset(name, query=dict([query.split("=")]))
        assert result.status == 200, url
        assert result.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert body_bytes(result) == ALLOWED[name][1].read_bytes()


def test_the_page_points_swagger_ui_at_the_document_and_loads_the_initializer_last():
    _, parsed = page()

    root = next(attrs for tag, attrs in parsed.tags if attrs.get("id") == "swagger-ui")
    assert root["data-url"] == "/api/openapi.json"
    scripts = [attrs["src"] for tag, attrs in parsed.tags if tag == "script"]
    assert [str(src).split("?")[0] for src in scripts] == ["/api/docs/swagger-ui-bundle.js", "/api/docs/initializer.js"]
    assert "dataset.url" in (DOCS / "initializer.js").read_text()


def test_the_page_revalidates_and_answers_304_while_unchanged():
    first, _ = page()
    assert first.headers["cache-control"] == "no-cache"

    again = invoke("docs", load_event("docs/page.json", headers={"if-none-match": first.headers["etag"]}))

    assert again.status == 304
    assert again.body == ""
    assert again.headers["etag"] == first.headers["etag"]
    assert "content-security-policy" in again.headers


# --- the document ---------------------------------------------------------------------------------------


def test_the_document_is_the_generated_openapi_file():
    result = invoke("docs", load_event("docs/document.json", headers={"accept-encoding": None}))

    assert result.status == 200
    assert result.headers["content-type"] == "application/json"
    assert result.headers["cache-control"] == "no-cache"
    assert result.body == (DOCS / "openapi.json").read_text()
    document = json.loads(result.body)
    assert document["openapi"].startswith("3.1")
    assert {"/api/openapi.json", "/api/docs", "/api/docs/{asset}", "/api/auth/me"} <= set(document["paths"])


def test_the_document_answers_304_to_its_etag_and_200_to_another():
    first = invoke("docs", load_event("docs/document.json"))
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{16}(-gzip)?"', etag)

    unchanged = invoke("docs", load_event("docs/document.json", headers={"if-none-match": f'"other", {etag}'}))
    changed = invoke("docs", load_event("docs/document.json", headers={"if-none-match": '"0000000000000000"'}))

    assert unchanged.status == 304
    assert unchanged.body == ""
    assert unchanged.headers["etag"] == etag
    assert changed.status == 200
    assert json.loads(body_bytes(changed))["info"]["title"] == "API routes"


# --- compression ----------------------------------------------------------------------------------------


def test_large_text_is_gzipped_for_clients_that_accept_it():
    result = get_asset("swagger-ui-bundle.js", headers={"accept-encoding": "gzip, deflate, br"})

    assert result.headers["content-encoding"] == "gzip"
    assert result.headers["vary"] == "Accept-Encoding"
    assert result.raw["isBase64Encoded"] is True
    assert len(base64.b64decode(result.body)) < (VENDORED / "swagger-ui-bundle.js").stat().st_size / 3
    assert body_bytes(result) == (VENDORED / "swagger-ui-bundle.js").read_bytes()


@pytest.mark.parametrize("accept_encoding", [None, "identity", "gzip;q=0", "br, gzip; q=0.000", "gzip;q=x", "deflate"])
def test_text_goes_uncompressed_to_clients_that_refuse_gzip(accept_encoding):
    result = get_asset("swagger-ui.css", headers={"accept-encoding": accept_encoding})

    assert "content-encoding" not in result.headers
    assert result.raw["isBase64Encoded"] is False
    assert result.body == (VENDORED / "swagger-ui.css").read_text()


def test_each_encoding_has_its_own_etag():
    plain = get_asset("swagger-ui.css", headers={"accept-encoding": None})
    zipped = get_asset("swagger-ui.css", headers={"accept-encoding": "gzip"})

    assert plain.headers["etag"] != zipped.headers["etag"]
    assert get_asset("swagger-ui.css", headers={"if-none-match": zipped.headers["etag"]}).status == 304


# --- the allow-list -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_an_allowed_file_is_served_with_its_type(name):
    content_type, path = ALLOWED[name]

    result = get_asset(name)

    assert result.status == 200
    assert result.headers["content-type"] == content_type
    assert result.headers["x-content-type-options"] == "nosniff"
    assert body_bytes(result) == path.read_bytes()


@pytest.mark.parametrize(
    ("query", "cache_control"),
    [({}, "no-cache"), ({"v": "0123456789abcdef"}, "no-cache")],
    ids=["no version", "another version"],
)
def test_a_file_is_cached_for_a_year_only_under_its_current_version(query, cache_control):
    result = get_asset("swagger-ui.css", query=query)

    assert result.status == 200
    assert result.headers["cache-control"] == cache_control


@pytest.mark.parametrize(
    ("raw_name", "decoded"),
    [
        ("app.py", None),  # the function's own source, next to the assets
        ("openapi.json", None),
        ("LICENSE", None),  # vendored, but not part of the page
        ("swagger-ui-bundle.js.map", None),
        ("index.html", None),
        ("SWAGGER-UI.CSS", None),
        ("..%2Fapp.py", "../app.py"),
        ("..%2F..%2F..%2Ftemplate.yaml", "../../../template.yaml"),
        ("%2e%2e%2fapp.py", "../app.py"),
        ("swagger-ui%2FLICENSE", "swagger-ui/LICENSE"),
        ("%2Fetc%2Fpasswd", "/etc/passwd"),
        ("swagger-ui.css%00", "swagger-ui.css\x00"),
        ("..", None),
    ],
)
def test_anything_else_is_a_404_problem(raw_name, decoded):
    result = invoke("docs", asset_event(raw_name, decoded))

    assert_problem(result, 404, f"/api/docs/{raw_name}")


def test_a_path_with_more_segments_is_a_404_problem():
    result = invoke("docs", asset_event("../app.py"))

    assert_problem(result, 404)


# --- the vendored copy of swagger-ui-dist -----------------------------------------------------------------


def test_the_vendored_swagger_ui_is_the_pinned_npm_package():
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["swagger-ui-dist"]
    installed_manifest = NPM_PACKAGE / "package.json"
    assert installed_manifest.is_file(), "node_modules is missing: run `make node_modules/.installed`"
    installed = json.loads(installed_manifest.read_text())["version"]
    assert installed == pinned, f"node_modules has swagger-ui-dist {installed}, package.json pins {pinned}: npm ci"

    assert {path.name for path in VENDORED.iterdir()} == VENDORED_FILES
    stale = sorted(
        name for name in VENDORED_FILES if (VENDORED / name).read_bytes() != (NPM_PACKAGE / name).read_bytes()
    )
    assert not stale, f"functions/docs/swagger-ui/ is not swagger-ui-dist {pinned} ({stale}): run `make swagger-ui`"


def test_the_allow_list_is_the_files_tested_here_and_all_but_ours_are_vendored():
    assert set(load_function("docs").ASSETS) == set(ALLOWED)
    assert {name for name, (_, path) in ALLOWED.items() if path.parent != VENDORED} == {"initializer.js"}
    assert {name for name, (_, path) in ALLOWED.items() if path.parent == VENDORED} <= VENDORED_FILES


# --- sample events --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", ["asset.json", "document.json", "page.json"])
def test_a_sample_event_gives_200(sample):
    assert {path.name for path in (ROOT / "events" / "docs").glob("*.json")} == {
        "asset.json",
        "document.json",
        "page.json",
    }
    event = json.loads((ROOT / "events" / "docs" / sample).read_text())

    result = invoke("docs", event)

    assert result.status == 200
    assert result.headers["x-request-id"] == event["requestContext"]["requestId"]

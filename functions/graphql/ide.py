"""GraphiQL, the in-browser IDE, on GET /api/graphql when a browser asks for a page; its files under ASSET_PATH.

No routes here: app.py decides when to answer with page() (enabled() and wants_ide()) and routes ASSET_PATH's files
to asset(). What is served is read once, on the first request for GraphiQL: GraphiQL and React as `make graphiql`
vendors them into graphiql/ from the pinned npm packages, and our initializer.js and page.css beside this file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from protection import switch

from apikit.errors import NotFound
from apikit.negotiation import quality
from apikit.static import CSS, HTML, JAVASCRIPT, REVALIDATE, File, serve, serve_asset

HERE = Path(__file__).parent
VENDORED = HERE / "graphiql"
PAGE_PATH = "/api/graphql"
ASSET_PATH = "/api/graphql/ide"
# What a GraphQL client asks for (GraphQL over HTTP): a request preferring neither gets the page.
GRAPHQL_MEDIA_TYPES = ("application/graphql-response+json", "application/json")

# Like the API docs' (functions/docs/app.py), verified the same way by tests/browser/test_graphiql.py:
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",  # anything not named below (frames, workers, objects, manifests) is refused
        "script-src 'self'",  # React, GraphiQL and initializer.js; no inline script, no eval
        # graphiql.min.css and page.css; React and CodeMirror style elements through the CSSOM, which CSP allows.
        # And one inline stylesheet by its hash, not 'unsafe-inline': the scroll lock GraphiQL's dialogs (settings,
        # short keys) add to <head> while open (react-remove-scroll-bar). Its text holds the page's scrollbar width,
        # always 0px as page.css never lets the body scroll, so it is always this one. Refused, it would change
        # nothing on screen but log a CSP error for each dialog; tests/browser/test_graphiql.py opens one.
        "style-src 'self' 'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='",
        "img-src 'self' data:",  # the icons graphiql.min.css embeds as data: URLs; the page's empty icon
        "font-src data:",  # graphiql.min.css embeds its fonts as data: URLs
        "connect-src 'self'",  # the queries (and the schema's introspection), to /api/graphql only
        "form-action 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
# Vary: Accept, since the same URL answers GraphQL clients with JSON: no cache may give one the other's answer.
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Referrer-Policy": "no-referrer", "Vary": "Accept"}

# The allow-list: a name in the URL only ever picks one of these; no path is built from it.
ASSETS = {
    "react.production.min.js": (VENDORED / "react.production.min.js", JAVASCRIPT),
    "react-dom.production.min.js": (VENDORED / "react-dom.production.min.js", JAVASCRIPT),
    "graphiql.min.js": (VENDORED / "graphiql.min.js", JAVASCRIPT),
    "graphiql.min.css": (VENDORED / "graphiql.min.css", CSS),
    "initializer.js": (HERE / "initializer.js", JAVASCRIPT),
    "page.css": (HERE / "page.css", CSS),
}


@cache
def _files() -> dict[str, File]:
    """Read on the first request for GraphiQL, not at cold start: off on AWS by default, its 1.3 MB (about 5 ms to
    read and hash) would otherwise be paid by every new execution environment of the GraphQL function."""
    return {name: File.read(path, content_type) for name, (path, content_type) in ASSETS.items()}


def _url(name: str) -> str:
    return f"{ASSET_PATH}/{name}?v={_files()[name].version}"


@cache
def _page() -> File:
    # The scripts in this order: GraphiQL's build expects the globals React and ReactDOM, initializer.js all three.
    return File(
        f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API routes: GraphiQL</title>
<link rel="stylesheet" href="{_url("graphiql.min.css")}">
<link rel="stylesheet" href="{_url("page.css")}">
<link rel="icon" href="data:,">
</head>
<body>
<div id="graphiql" data-url="{PAGE_PATH}">Loading GraphiQL…</div>
<script src="{_url("react.production.min.js")}"></script>
<script src="{_url("react-dom.production.min.js")}"></script>
<script src="{_url("graphiql.min.js")}"></script>
<script src="{_url("initializer.js")}"></script>
</body>
</html>
""".encode(),
        HTML,
    )


def enabled() -> bool:
    """GRAPHIQL: "on", "off", or "auto" (the default): on only in the dev server and `sam local`. A deployed API
    serves no IDE unless its template says "on"."""
    return switch("GRAPHIQL")


def wants_ide(event: APIGatewayProxyEventV2) -> bool:
    """A browser opening the URL: a GET (or HEAD) preferring HTML to GraphQL's JSON, and not a query (GraphQL's GET
    form). A tie (`*/*`, curl's default) is a GraphQL client's."""
    if event.http_method not in ("GET", "HEAD") or "query" in (event.query_string_parameters or {}):
        return False
    accept = event.headers.get("accept", "")
    html = quality(accept, "text/html")
    return html > 0 and all(html > quality(accept, media_type) for media_type in GRAPHQL_MEDIA_TYPES)


def page(event: APIGatewayProxyEventV2) -> Response[str | bytes]:
    """The page: revalidated on each visit (ETag, 304), so that after a deploy it links the new files."""
    _require_enabled()
    return serve(event, _page(), REVALIDATE, PAGE_HEADERS)


def asset(name: str, event: APIGatewayProxyEventV2) -> Response[str | bytes]:
    """One of ASSETS, cached for a year under the ?v= the page links it with; 404 problem+json for any other name."""
    _require_enabled()
    file = _files().get(name)
    if file is None:
        raise NotFound("No such file in GraphiQL.")
    return serve_asset(event, file)


def _require_enabled() -> None:
    # Whatever route calls page() or asset(): off, GraphiQL is a 404 like any path the API does not have.
    if not enabled():
        raise NotFound()

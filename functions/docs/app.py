"""GET /api/openapi.json, /api/docs and /api/docs/{asset}: the OpenAPI document, and Swagger UI to read and try it.

Everything served is read once, at cold start, from this function's own directory: the document `make openapi`
writes, the Swagger UI files `make swagger-ui` vendors from the pinned swagger-ui-dist, and our initializer. It
calls no AWS service, so its role grants nothing beyond writing its logs.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.errors import NotFound
from apikit.routes import route
from apikit.static import CSS, HTML, JAVASCRIPT, REVALIDATE, File, serve, serve_asset

HERE = Path(__file__).parent
VENDORED = HERE / "swagger-ui"
DOCUMENT_PATH = "/api/openapi.json"
PAGE_PATH = "/api/docs"

# Swagger UI runs with no inline script, style or event handler, and talks only to this origin (verified in
# tests/browser/test_swagger_ui.py, which fails on any violation):
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",  # anything not named below (fonts, frames, workers, objects, manifests) is refused
        "script-src 'self'",  # the bundle and initializer.js; no inline script, no eval
        "style-src 'self'",  # swagger-ui.css; React sets element styles through the CSSOM, which CSP allows
        "img-src 'self' data:",  # the favicon, and the icons swagger-ui.css embeds as data: URLs
        "connect-src 'self'",  # the document and "Try it out" requests, same origin only
        "form-action 'none'",  # the Authorize form is handled in script and never submitted
        "frame-ancestors 'none'",  # no framing, so no clickjacking of Authorize or Execute
        "base-uri 'none'",
    ]
)
PAGE_HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Referrer-Policy": "no-referrer"}
# The allow-list: a name in the URL only ever picks one of these; no path is built from it.
ASSETS = {
    "swagger-ui-bundle.js": File.read(VENDORED / "swagger-ui-bundle.js", JAVASCRIPT),
    "swagger-ui.css": File.read(VENDORED / "swagger-ui.css", CSS),
    "favicon-32x32.png": File.read(VENDORED / "favicon-32x32.png", "image/png"),
    "initializer.js": File.read(HERE / "initializer.js", JAVASCRIPT),
}
DOCUMENT = File.read(HERE / "openapi.json", "application/json")


def _url(name: str) -> str:
    return f"{PAGE_PATH}/{name}?v={ASSETS[name].version}"


PAGE = File(
    f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API routes: API docs</title>
<link rel="stylesheet" href="{_url("swagger-ui.css")}">
<link rel="icon" type="image/png" sizes="32x32" href="{_url("favicon-32x32.png")}">
</head>
<body>
<div id="swagger-ui" data-url="{DOCUMENT_PATH}"></div>
<script src="{_url("swagger-ui-bundle.js")}"></script>
<script src="{_url("initializer.js")}"></script>
</body>
</html>
""".encode(),
    HTML,
)

app = create_app()

IF_NONE_MATCH = {"If-None-Match": "The ETag of an earlier answer: 304 while the content has not changed."}
NOT_MODIFIED: dict[int, str] = {HTTPStatus.NOT_MODIFIED: "Unchanged since the ETag in If-None-Match."}
CACHING = {
    "ETag": "A hash of the content.",
    "Cache-Control": "`no-cache` (revalidate with If-None-Match), or a year for a URL with the current `?v=`.",
}


@route(
    app,
    "GET",
    DOCUMENT_PATH,
    summary="This OpenAPI document",
    response={"type": "object", "description": "OpenAPI 3.1"},
    response_headers=CACHING,
    request_headers=IF_NONE_MATCH,
    responses=NOT_MODIFIED,
    tag="docs",
)
def openapi_document() -> Response[str | bytes]:
    """Generated from every route's own declaration by `make openapi`."""
    return serve(app.current_event, DOCUMENT, REVALIDATE)


@route(
    app,
    "GET",
    PAGE_PATH,
    summary="Swagger UI for this API",
    response={"type": "string"},
    response_media_type="text/html",
    response_headers={**CACHING, "Content-Security-Policy": "Scripts, styles and requests from this origin only."},
    request_headers=IF_NONE_MATCH,
    responses=NOT_MODIFIED,
    tag="docs",
)
def swagger_ui() -> Response[str | bytes]:
    """The page you are reading. Use Authorize with an `access_token` from signup or login, then Try it out."""
    return serve(app.current_event, PAGE, REVALIDATE, PAGE_HEADERS)


@route(
    app,
    "GET",
    PAGE_PATH + "/{asset}",
    summary="A file of the Swagger UI page",
    response={"type": "string"},
    response_media_type="*/*",
    response_headers=CACHING,
    request_headers=IF_NONE_MATCH,
    errors=(HTTPStatus.NOT_FOUND,),
    responses=NOT_MODIFIED,
    tag="docs",
)
def swagger_ui_asset(asset: str) -> Response[str | bytes]:
    """One of `swagger-ui-bundle.js`, `swagger-ui.css`, `favicon-32x32.png` and `initializer.js`; 404 otherwise."""
    file = ASSETS.get(asset)
    if file is None:
        raise NotFound("No such file in the API docs.")
    return serve_asset(app.current_event, file)


lambda_handler = make_handler(app)

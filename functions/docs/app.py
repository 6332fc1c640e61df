"""GET /api/openapi.json, /api/docs and /api/docs/{asset}: the OpenAPI document, and Swagger UI to read and try it.

Everything served is read once, at cold start, from this function's own directory: the document `make openapi`
writes, the Swagger UI files `make swagger-ui` vendors from the pinned swagger-ui-dist, and our initializer. It
calls no AWS service, so its role grants nothing beyond writing its logs.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from http import HTTPStatus
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from apikit.app import create_app, make_handler
from apikit.conditional import not_modified
from apikit.errors import NotFound
from apikit.routes import route

HERE = Path(__file__).parent
VENDORED = HERE / "swagger-ui"
DOCUMENT_PATH = "/api/openapi.json"
PAGE_PATH = "/api/docs"
JAVASCRIPT = "text/javascript; charset=utf-8"

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
REVALIDATE = "no-cache"  # caches keep a copy but ask first; the ETag makes asking cheap (304)
IMMUTABLE = "public, max-age=31536000, immutable"  # for a versioned URL: a new version is a new URL
GZIP_FROM = 1024  # bytes; below this, gzip's header and base64 outweigh the saving


class File:
    """One file as served: its bytes, its type, a content hash, and a gzip copy made on first demand."""

    def __init__(self, body: bytes, content_type: str) -> None:
        self.content_type = content_type
        binary = not content_type.startswith(("text/", "application/json"))
        self.body: str | bytes = body if binary else body.decode()  # text goes to API Gateway as is, not base64
        self.raw = body
        self.compressible = not binary and len(body) >= GZIP_FROM
        self.version = hashlib.sha256(body).hexdigest()[:16]
        self._gzipped: str | None = None

    @classmethod
    def read(cls, path: Path, content_type: str) -> File:
        return cls(path.read_bytes(), content_type)

    def gzipped(self) -> str:
        """The gzip copy, base64-encoded as Lambda returns binary bodies.

        Made once per container, on the first request that accepts gzip: ~40 ms turns the 1.7 MB bundle into 460 KB.
        """
        if self._gzipped is None:
            self._gzipped = base64.b64encode(gzip.compress(self.raw, mtime=0)).decode()
        return self._gzipped


# The allow-list: a name in the URL only ever picks one of these; no path is built from it.
ASSETS = {
    "swagger-ui-bundle.js": File.read(VENDORED / "swagger-ui-bundle.js", JAVASCRIPT),
    "swagger-ui.css": File.read(VENDORED / "swagger-ui.css", "text/css; charset=utf-8"),
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
    "text/html; charset=utf-8",
)

app = create_app()

IF_NONE_MATCH = {"If-None-Match": "The ETag of an earlier answer: 304 while the content has not changed."}
NOT_MODIFIED: dict[int, str] = {HTTPStatus.NOT_MODIFIED: "Unchanged since the ETag in If-None-Match."}
CACHING = {
    "ETag": "A hash of the content.",
    "Cache-Control": "`no-cache` (revalidate with If-None-Match), or a year for a URL with the current `?v=`.",
}


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding lists gzip with a weight above zero (RFC 9110 section 12.5.3)."""
    for item in accept_encoding.lower().split(","):
        coding, *parameters = (part.strip() for part in item.split(";"))
        weights = [value for name, _, value in (p.partition("=") for p in parameters) if name.strip() == "q"]
        try:
            weight = float(weights[0]) if weights else 1.0
        except ValueError:
            weight = 0.0
        if coding == "gzip" and weight > 0:
            return True
    return False


def serve(file: File, cache_control: str, headers: dict[str, str] | None = None) -> Response[str | bytes]:
    """The file with its ETag, or 304 when If-None-Match still matches; gzip when the client accepts it."""
    event = app.current_event
    compress = file.compressible and accepts_gzip(event.headers.get("accept-encoding", ""))
    # Each encoding is a representation of its own, so each has its own strong ETag (RFC 9110 section 8.8.3).
    answer = {
        "ETag": f'"{file.version}-gzip"' if compress else f'"{file.version}"',
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        **(headers or {}),
    }
    if file.compressible:
        answer["Vary"] = "Accept-Encoding"
    if not_modified(event, answer["ETag"]):
        return Response(HTTPStatus.NOT_MODIFIED, None, "", answer)
    if compress:
        response: Response[str | bytes] = Response(
            HTTPStatus.OK, file.content_type, file.gzipped(), {**answer, "Content-Encoding": "gzip"}
        )
        # Already base64 (API Gateway decodes it on the way out). Not bytes: Powertools would JSON-encode bytes
        # under an application/json type.
        response.base64_encoded = True
        return response
    return Response(HTTPStatus.OK, file.content_type, file.body, answer)


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
    return serve(DOCUMENT, REVALIDATE)


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
    return serve(PAGE, REVALIDATE, PAGE_HEADERS)


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
    # Cached for a year only under the URL the page links to, whose ?v= is the content's hash: after a
    # deploy the page names new URLs, and an old or missing ?v= is revalidated instead of kept.
    current = app.current_event.get_query_string_value("v") == file.version
    return serve(file, IMMUTABLE if current else REVALIDATE)


lambda_handler = make_handler(app)

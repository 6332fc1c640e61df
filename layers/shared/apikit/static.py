"""Files served as they are (a page and its scripts, styles and images): ETag and 304, gzip, year-long versioned URLs.

For what a function reads once, at cold start, from its own directory: the API docs (functions/docs) and GraphiQL
(functions/graphql/ide.py). A page links each of its files as `<path>/<name>?v=<File.version>`, and serve_asset
lets a browser keep that URL for a year: after a deploy the page names new URLs.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from http import HTTPStatus
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.conditional import not_modified

HTML = "text/html; charset=utf-8"
JAVASCRIPT = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
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

        Made once per container, on the first request that accepts gzip: ~40 ms turns a 1.7 MB bundle into 460 KB.
        """
        if self._gzipped is None:
            self._gzipped = base64.b64encode(gzip.compress(self.raw, mtime=0)).decode()
        return self._gzipped


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


def serve(
    event: APIGatewayProxyEventV2, file: File, cache_control: str, headers: dict[str, str] | None = None
) -> Response[str | bytes]:
    """The file with its ETag, or 304 when If-None-Match still matches; gzip when the client accepts it."""
    compress = file.compressible and accepts_gzip(event.headers.get("accept-encoding", ""))
    # Each encoding is a representation of its own, so each has its own strong ETag (RFC 9110 section 8.8.3).
    answer = {
        "ETag": f'"{file.version}-gzip"' if compress else f'"{file.version}"',
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        **(headers or {}),
    }
    if file.compressible:  # added to the caller's Vary (the GraphiQL page's Accept), not in its place
        answer["Vary"] = f"{answer['Vary']}, Accept-Encoding" if "Vary" in answer else "Accept-Encoding"
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


def serve_asset(event: APIGatewayProxyEventV2, file: File) -> Response[str | bytes]:
    """A file a page links: cached for a year only under the URL the page names, whose ?v= is the content's hash.
    An old or missing ?v= (a page from before a deploy, a typed URL) is revalidated instead of kept."""
    current = event.get_query_string_value("v") == file.version
    return serve(event, file, IMMUTABLE if current else REVALIDATE)

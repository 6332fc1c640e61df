"""Conditional requests (RFC 9110 section 13): ETags for caching (304) and optimistic concurrency (412)."""

from __future__ import annotations

import hashlib
import re

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from apikit.errors import BadRequest

# Documents the header on every conditional write (see apikit.routes).
IF_MATCH = {"If-Match": 'The ETag you last read (e.g. "v3"): the write fails with 412 if the post changed since.'}

_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')
# The versions go into the write's condition, `version IN (...)`, and DynamoDB takes at most 100 values there:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html
MAX_IF_MATCH_VERSIONS = 100
# Only the exact form etag() writes: strong comparison is character by character, so "v01" is not "v1".
_OUR_TAG = re.compile(r'"v([1-9]\d{0,17})"')


# Public data (the same for every reader) may be reused this long by anonymous readers' browsers and caches.
PUBLIC_MAX_AGE_SECONDS = 10
# How public_cache_headers' Cache-Control is documented on the routes that use it.
PUBLIC_CACHE_CONTROL = (
    f"`public, max-age={PUBLIC_MAX_AGE_SECONDS}` for anonymous readers, `private, no-cache` with Authorization."
)


def etag(version: int) -> str:
    return f'"v{version}"'


def content_etag(body: str) -> str:
    """A tag for a response with no version of its own (a page of a list): its content's digest."""
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def public_cache_headers(event: APIGatewayProxyEventV2, tag: str) -> dict[str, str]:
    """For a public GET: anonymous readers may reuse it for a few seconds, then revalidate with the tag; a
    signed-in reader, who may have just changed it, revalidates every time (and shared caches keep none of it)."""
    signed_in = "authorization" in event.headers
    cache_control = "private, no-cache" if signed_in else f"public, max-age={PUBLIC_MAX_AGE_SECONDS}"
    # Vary: Origin too, whatever the request's: a copy cached for a request without Origin (a tab on the URL) has no
    # CORS headers, and a browser must not reuse it for a front end's fetch (API Gateway adds Vary only with them).
    return {"ETag": tag, "Cache-Control": cache_control, "Vary": "Authorization, Origin"}


def _entity_tags(header: str) -> list[tuple[bool, str]] | None:
    """(weak, tag) pairs of an If-Match / If-None-Match header; None means `*`."""
    if header.strip() == "*":
        return None
    tags = []
    for part in header.split(","):
        match = _ENTITY_TAG.fullmatch(part)
        if match:
            tags.append((bool(match.group(1)), f'"{match.group(2)}"'))
    return tags


def if_match_versions(event: APIGatewayProxyEventV2) -> list[int] | None:
    """Versions the caller's If-Match accepts, compared strongly; None when any existing version will do.

    An If-Match that names no version of ours gives an empty list: the write must then fail with 412. More than
    MAX_IF_MATCH_VERSIONS different versions is a 400: the write's condition could not hold them.
    """
    return accepted_versions(event.headers.get("if-match"))


def accepted_versions(header: str | None) -> list[int] | None:
    """`if_match_versions` of an If-Match value given some other way (GraphQL's `ifMatch` argument)."""
    tags = None if header is None else _entity_tags(header)
    if tags is None:
        return None
    matches = (_OUR_TAG.fullmatch(tag) for weak, tag in tags if not weak)
    versions = list(dict.fromkeys(int(match.group(1)) for match in matches if match))  # each once, in order
    if len(versions) > MAX_IF_MATCH_VERSIONS:
        raise BadRequest(f"If-Match names more than {MAX_IF_MATCH_VERSIONS} versions; send the ETag you last read.")
    return versions


def not_modified(event: APIGatewayProxyEventV2, current: str) -> bool:
    """True when If-None-Match matches the current tag (weak comparison), so a GET answers 304."""
    header = event.headers.get("if-none-match")
    if header is None:
        return False
    tags = _entity_tags(header)
    return tags is None or any(tag == current for _, tag in tags)

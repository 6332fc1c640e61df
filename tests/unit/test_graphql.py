"""POST /api/graphql (functions/graphql/app.py)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Result, invoke, load_event


def call(**changes: Any) -> Result:
    """The sample request (events/graphql/post.json) with `changes`: headers={...}, body={...}, query={...}."""
    return invoke("graphql", load_event("graphql/post.json", **changes))


def test_the_sample_request_is_answered(aws):
    result = call()

    assert result.status == 200, result.body
    # Then what a caller would notice: result.json(), result.headers["..."], a bad input's 4xx.

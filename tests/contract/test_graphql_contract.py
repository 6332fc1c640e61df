"""docs/schema.graphql against the running API: schemathesis' GraphQL fuzzing of every Query and Mutation field.

schemathesis (hypothesis-graphql underneath) writes operations on each root field from the SDL: valid ones, and
ones with arguments of the wrong type, missing or null, with selections nested as deep as the types go. Each is
POSTed to the contract dev server (conftest.py), anonymously and with the fuzz user's bearer token. `make test` runs
EXAMPLES_PER_FIELD (2 x CONTRACT_MAX_EXAMPLES, 20) per field and token; `make fuzz` raises it with FUZZ_EXAMPLES.
Derandomized, with no example database: the same requests every run.

Checked on every answer: not a 5xx; a GraphQL response (a JSON object with `data` or `errors`); no error coded
INTERNAL_SERVER_ERROR, which is how the API words a resolver that crashed (GraphQL's 5xx, answered with a 200); no
Python internals in the body. Not schemathesis' own GraphQL checks: its not_a_server_error counts any error that has
a `path` and no client-error code as the server's fault, so UNAUTHENTICATED (`me` without a token), FORBIDDEN and
NOT_FOUND, which are the API doing its job, would all fail it.
"""

from __future__ import annotations

import os
import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.generation import GenerationMode

from devserver.process import DevServerProcess
from tests.contract.conftest import ROOT, fuzz_user

EXAMPLES_PER_FIELD = 2 * int(os.environ.get("CONTRACT_MAX_EXAMPLES", "10"))
# From the committed SDL, which tests/unit/test_graphql_schema.py keeps equal to what the function serves. An
# explicit, empty configuration: not a schemathesis.toml found from the working directory.
schema = schemathesis.graphql.from_path(ROOT / "docs" / "schema.graphql", config=SchemathesisConfig.from_dict({}))
INTERNALS = re.compile(r"Traceback|File \"|\.py\b|site-packages|botocore|\b[A-Z][A-Za-z]*(?:Error|Exception)\b")


# Fields whose fuzzing meets a known bug, and which. Strict: once the bug is fixed the test passes, and fails as
# XPASS until its line here is removed.
@pytest.fixture(scope="module")
def bearer(contract_server: DevServerProcess) -> str:
    """An access token of the fuzz user, whom conftest.py signed up."""
    user = fuzz_user()
    response = requests.post(
        f"{contract_server.url}/api/auth/login",
        json={"email": user["email"], "password": user["password"]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def check(response: Response) -> None:
    sent = response.request.body
    assert response.status_code < 500, f"{response.status_code} for {sent!r}: {response.text}"
    found = INTERNALS.search(response.text)
    assert found is None, f"{found.group(0)!r} in the answer to {sent!r}: {response.text}"
    assert response.headers.get("content-type") == ["application/json"], f"not GraphQL, for {sent!r}: {response.text}"
    body = response.json()
    assert isinstance(body, dict), f"not a GraphQL response, for {sent!r}: {response.text}"
    assert "data" in body or "errors" in body, f"neither data nor errors, for {sent!r}: {response.text}"
    codes = [error.get("extensions", {}).get("code") for error in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes, f"a resolver crashed, for {sent!r}: {response.text}"


def cases(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    """Valid operations on the field, and operations the schema refuses (wrong types, missing or null arguments)."""
    return st.one_of(operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))


# Every root field, by its label (Query.me, ..., Mutation.deletePost): with schemathesis' strategies under plain
# hypothesis, so that a strict xfail is plain pytest's (schemathesis' own parametrize crashes pytest with an
# INTERNALERROR on an XPASS(strict), in schemathesis 4.32.5's pytest_runtest_makereport).
FIELDS = {f"{root}.{name}": schema[root][name] for root in schema for name in schema[root]}
STRATEGIES = {label: cases(operation) for label, operation in FIELDS.items()}


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "bearer"])
@pytest.mark.parametrize(
    "field",
    [label for label in FIELDS],
)
@settings(
    max_examples=EXAMPLES_PER_FIELD,
    deadline=None,  # a request's time on a busy machine says nothing about the API (make bench measures it)
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],  # generation speed, as in schemathesis.toml
)
@given(data=st.data())
def test_every_field_answers_graphql_whatever_it_is_sent(
    field: str, signed_in: bool, contract_server: DevServerProcess, bearer: str, data: st.DataObject
) -> None:
    case = data.draw(STRATEGIES[field], label="case")
    headers = {"Authorization": f"Bearer {bearer}"} if signed_in else {}

    response = case.call(base_url=f"{contract_server.url}/api/graphql", headers=headers, timeout=30)

    check(response)

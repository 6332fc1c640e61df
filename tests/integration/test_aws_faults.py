"""The dev server pointed with --aws-endpoint at an AWS that fails (tests/fakes/aws_endpoint.py), as a user tries
out how the API answers then: it starts anyway, says why, and the functions answer problem+json 503s in time."""

from __future__ import annotations

from tests.conftest import ROOT
from tests.fakes.aws_endpoint import FaultyAwsEndpoint
from tests.integration.conftest import assert_problem


def test_a_failing_aws_endpoint_is_served_and_answers_503_with_retry_after(start_server):
    with FaultyAwsEndpoint("fault") as endpoint:
        server = start_server(ROOT / "template.yaml", "--aws-endpoint", endpoint.origin, "--no-reload")
        assert f"warning: {endpoint.origin} failed while creating" in server.output()

        answer = server.get("/api/posts/0f8fad5b-d9cb-469f-a165-70867728950e")

    assert_problem(answer, 503)
    assert answer.headers["Retry-After"] == "1"
    assert answer.elapsed.total_seconds() < 10  # the function's Timeout: answered by it, not cut off by Lambda
    # The rate limit's counter, then the post: each tried three times (standard retries), no more.
    assert endpoint.targets[-3:] == ["DynamoDB_20120810.GetItem"] * 3

"""AWS failing underneath a handler: throttled, broken, silent or unreachable. Each is a problem+json 503 or 504
before the function's own timeout (never a bare 500 or a Lambda timeout), and a real bug stays a 500 that is
counted (the UnhandledErrors metric, alarmed on in template.yaml).

The faults come through the seams a user has: botocore's Stubber on the layer's clients, and a fake endpoint on
127.0.0.1 (tests/fakes/aws_endpoint.py) given as AWS_ENDPOINT_URL_DYNAMODB, as the dev server's --aws-endpoint does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

from devserver.template import load_app
from devserver.worker import LambdaContext
from tests.conftest import (
    PUBLIC_KEYS,
    ROOT,
    Result,
    assert_problem,
    bearer,
    invoke,
    invoke_fresh_app,
    load_event,
    post_event,
)
from tests.fakes.aws_endpoint import FaultyAwsEndpoint

POST_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def get_post(seconds_left: float = 10) -> Result:
    """GET /api/posts/<id> with `seconds_left` in the invocation, as Lambda's context would say."""
    event = post_event("posts_get/get.json", POST_ID, headers={"if-none-match": None})
    return invoke("posts_get", event, LambdaContext("PostsGetFunction", 512, seconds_left))


def emf_lines(text: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric-format documents printed (one JSON object per line)."""
    documents = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [document for document in documents if "_aws" in document]


@pytest.fixture
def dynamodb_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the layer's DynamoDB client at an endpoint (a new client, as in a new container)."""
    from apikit import aws

    def point(endpoint: FaultyAwsEndpoint) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint.origin)
        aws.dynamodb.cache_clear()

    yield point
    aws.dynamodb.cache_clear()  # the next test's client talks to moto again


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError"],
)
def test_a_throttled_or_failing_dynamodb_is_a_503_with_retry_after(aws, code, capsys):
    from apikit.repositories import dynamodb

    with Stubber(dynamodb()) as stubber:
        stubber.add_client_error("get_item", service_error_code=code, http_status_code=400)
        result = get_post()

    body = assert_problem(result, 503, f"/api/posts/{POST_ID}")
    assert result.raw["headers"]["Retry-After"] == "1"  # spelled as RFC 9110 does, for HTTP/1.1 clients
    assert body["detail"] == "A service the API depends on is busy or unreachable; retry shortly."
    assert code not in result.body  # AWS's words stay in the logs
    assert "UnhandledErrors" not in capsys.readouterr().out  # "not now" is not a bug


def test_dynamodb_failing_after_three_attempts_is_a_503(dynamodb_at):
    with FaultyAwsEndpoint("fault") as endpoint:
        dynamodb_at(endpoint)
        result = get_post()

    assert_problem(result, 503)
    assert result.headers["retry-after"] == "1"
    # Standard retry mode: three attempts in all, not botocore's legacy ten for DynamoDB.
    assert endpoint.targets == ["DynamoDB_20120810.GetItem"] * 3


def test_a_dynamodb_that_never_answers_is_a_504_before_the_function_times_out(dynamodb_at):
    from apikit import aws

    seconds_left = aws.CONNECT_TIMEOUT_SECONDS + aws.READ_TIMEOUT_SECONDS + aws.ANSWER_MARGIN_SECONDS + 0.3
    with FaultyAwsEndpoint("silent") as endpoint:
        dynamodb_at(endpoint)
        started = time.monotonic()
        result = get_post(seconds_left)
        elapsed = time.monotonic() - started

    body = assert_problem(result, 504)
    assert body["detail"] == "A service the API depends on did not answer in time; retry shortly."
    assert elapsed >= aws.READ_TIMEOUT_SECONDS  # it did wait for an answer, as long as one attempt may
    assert elapsed < seconds_left - aws.ANSWER_MARGIN_SECONDS / 2  # and answered while Lambda still let it
    assert endpoint.targets == ["DynamoDB_20120810.GetItem"]  # no retry that could not have finished in time


def test_with_too_little_time_left_no_aws_call_is_sent(dynamodb_at):
    from apikit import aws

    with FaultyAwsEndpoint("silent") as endpoint:
        dynamodb_at(endpoint)
        result = get_post(aws.CONNECT_TIMEOUT_SECONDS + aws.READ_TIMEOUT_SECONDS)

    assert_problem(result, 504)
    assert endpoint.targets == []


def test_outside_an_invocation_no_deadline_applies(aws):
    """The deadline is the invocation's: a call made after it (a test, the next cold start) is not refused."""
    from apikit.repositories import dynamodb

    assert get_post(seconds_left=5).status == 404
    time.sleep(0.1)  # the finished invocation's deadline (5 s) would now leave too little for another call
    assert "Item" not in dynamodb().get_item(TableName="PostsTable", Key={"id": {"S": POST_ID}})


def test_secrets_manager_unavailable_at_cold_start_is_a_503_and_the_next_call_asks_again(aws):
    from aws_lambda_powertools.utilities import parameters

    from apikit.secrets import secrets_manager

    body = {"email": "ada@example.com", "password": "correct horse battery staple", "name": "Ada"}
    signed_up = invoke("auth_signup", load_event("auth_signup/post.json", body=body))
    token = signed_up.json()["access_token"]  # verifying it needs the public keys, from Secrets Manager
    me = load_event("auth_me/get.json", headers={"authorization": f"Bearer {token}"})
    parameters.clear_caches()  # a new container: nothing cached yet
    with Stubber(secrets_manager()) as stubber:
        stubber.add_client_error("get_secret_value", "InternalServiceError", http_status_code=500)
        unavailable = invoke("auth_me", me)
        secret = {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:JwtPublicKeys", "Name": "JwtPublicKeys"}
        stubber.add_response("get_secret_value", {**secret, "SecretString": PUBLIC_KEYS})
        available = invoke("auth_me", me)

    assert_problem(unavailable, 503)
    assert unavailable.headers["retry-after"] == "1"
    assert available.status == 200  # not a cached failure: Secrets Manager was asked again
    assert available.json()["email"] == "ada@example.com"


def test_a_missing_secret_is_a_500_not_a_503(aws, monkeypatch):
    """A misconfiguration does not get better with a retry: it is an error, counted and alarmed on."""
    monkeypatch.setenv("JWT_PUBLIC_KEYS_ARN", "NoSuchSecret")
    from apikit.config import get_settings

    get_settings.cache_clear()
    result = invoke("auth_me", load_event("auth_me/get.json", headers={"authorization": bearer("alice")}))

    assert_problem(result, 500)


def test_an_unhandled_error_is_counted_per_function(aws, monkeypatch, capsys):
    from apikit.repositories import dynamodb

    def broken(**_: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(dynamodb(), "get_item", broken)
    result = get_post()

    assert_problem(result, 500)
    [metric] = [line for line in emf_lines(capsys.readouterr().out) if "UnhandledErrors" in line]
    [directive] = metric["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "UnhandledErrors", "Unit": "Count"}]
    # The alarm's query sums it over exactly this dimension set: template.yaml's UnhandledErrorsAlarm.
    assert directive["Dimensions"] == [["function", "service"]]
    assert metric["function"] == "PostsGetFunction"
    assert metric["UnhandledErrors"] == [1.0]
    assert metric["error"] == "RuntimeError"


def raise_(error: Exception) -> Callable[[], Any]:
    def route() -> Any:
        raise error

    return route


def test_any_routes_aws_fault_is_a_503_and_a_warning_with_its_trace_not_an_unhandled_error(aws, capsys, caplog):
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")

    result = invoke_fresh_app(raise_(throttled), path="/api/busy")

    body = assert_problem(result, 503, "/api/busy")
    assert result.headers["retry-after"] == "1"
    assert body["detail"] == "A service the API depends on is busy or unreachable; retry shortly."
    [warning] = [record for record in caplog.records if record.levelname == "WARNING"]
    assert warning.getMessage() == "AWS unavailable"
    assert warning.exc_info is not None
    assert warning.exc_info[1] is throttled  # the trace, for whoever reads the logs
    assert "UnhandledErrors" not in capsys.readouterr().out


def test_any_routes_unexpected_error_is_a_500_counted_under_its_function_and_error_type(aws, capsys):
    result = invoke_fresh_app(raise_(KeyError("x")), function_name="OwnFunction", path="/api/bug")

    body = assert_problem(result, 500, "/api/bug")
    assert body["detail"] == "An unexpected error occurred."
    [metric] = [line for line in emf_lines(capsys.readouterr().out) if "UnhandledErrors" in line]
    assert (metric["function"], metric["error"], metric["UnhandledErrors"]) == ("OwnFunction", "KeyError", [1.0])


def test_the_functions_timeouts_leave_room_for_an_aws_call():
    """An AWS call is sent only with CONNECT + READ + MARGIN seconds left: a function with less could make none.
    SAM's default Timeout, 3 s, is enough."""
    from apikit import aws as aws_settings

    needed = aws_settings.CONNECT_TIMEOUT_SECONDS + aws_settings.READ_TIMEOUT_SECONDS
    needed += aws_settings.ANSWER_MARGIN_SECONDS
    functions = load_app(ROOT / "template.yaml").functions
    too_short = {name: spec.timeout for name, spec in functions.items() if spec.timeout < needed}
    assert not too_short, f"template.yaml: Timeout of {too_short} leaves no time for an AWS call (needs {needed} s)"


def test_a_clients_own_config_is_merged_with_the_layers():
    """uploads' S3 client signs with SigV4 (its own setting) and keeps the layer's timeouts and retries."""
    from botocore.config import Config

    from apikit import aws

    config = aws.client("s3", Config(signature_version="s3v4", s3={"addressing_style": "path"})).meta.config

    assert config.signature_version == "s3v4"
    assert config.s3 == {"addressing_style": "path"}  # not a default: only the merge puts it there
    assert (config.connect_timeout, config.read_timeout) == (aws.CONNECT_TIMEOUT_SECONDS, aws.READ_TIMEOUT_SECONDS)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_an_aws_error_without_its_error_member_is_neither_busy_nor_a_crash():
    """botocore builds a ClientError from whatever came back: a response with no Error member is a plain 500."""
    from botocore.exceptions import ClientError

    from apikit import aws

    error = ClientError({"ResponseMetadata": {"HTTPStatusCode": 500}}, "GetItem")

    assert aws.is_busy(error) is False
    assert aws.unavailable(error) is None


@pytest.mark.parametrize(
    ("error", "status"),
    [
        pytest.param(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), 503, id="endpoint-unreachable"),
        pytest.param(ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"), 503, id="connect-timeout"),
        pytest.param(ConnectionClosedError(endpoint_url="http://127.0.0.1:9"), 503, id="connection-closed"),
        pytest.param(ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), 504, id="read-timeout"),
        pytest.param(NoCredentialsError(), None, id="no-credentials"),
    ],
)
def test_which_botocore_failures_are_not_now(error, status):
    """Unreachable or silent AWS: retry shortly (503, 504). No credentials: a misconfiguration, an error (500)."""
    from apikit import aws

    answer = aws.unavailable(error)

    assert (answer and answer.status) == status


def test_an_attempt_is_sent_with_exactly_its_timeouts_and_margin_left_and_refused_with_less(monkeypatch):
    from apikit import aws

    monkeypatch.setattr(time, "monotonic", lambda: 1000.0)
    needed_ms = round(1000 * (aws.CONNECT_TIMEOUT_SECONDS + aws.READ_TIMEOUT_SECONDS + aws.ANSWER_MARGIN_SECONDS))
    try:
        aws.set_deadline(needed_ms)
        aws._refuse_late_attempts()  # sent: it ends, at the latest, as the margin begins
        aws.set_deadline(needed_ms - 1)
        with pytest.raises(aws.DeadlineExceeded):
            aws._refuse_late_attempts()
    finally:
        aws.set_deadline(None)


def test_a_function_with_sams_default_timeout_still_makes_its_aws_calls(aws):
    assert get_post(seconds_left=3).status == 404  # asked DynamoDB: no such post

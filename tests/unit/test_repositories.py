"""What every repository shares (apikit.aws, re-exported by apikit.repositories): an AWS error's code, and which
errors are "busy" (a 503 to retry, apikit.app) rather than an error."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from apikit.repositories import error_code, is_busy


@pytest.mark.parametrize(
    ("response", "code"),
    [
        ({"Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."}}, "NoSuchKey"),
        ({"Error": {"Message": "no code"}}, None),
        ({}, None),
    ],
    ids=["with-a-code", "without-a-code", "without-an-error"],
)
def test_an_errors_code_is_the_one_aws_answered_or_none(response, code):
    assert error_code(ClientError(response, "GetObject")) == code


def test_an_error_without_a_code_is_not_busy():
    assert is_busy(ClientError({}, "GetItem")) is False


@pytest.mark.parametrize(
    "response",
    [
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
        {"Error": {"Code": "TransactionCanceledException"}, "CancellationReasons": [{"Code": "TransactionConflict"}]},
    ],
    ids=["a-throttle", "a-cancelled-transaction-for-a-conflict"],
)
def test_a_throttle_or_a_conflicting_transaction_is_busy(response):
    assert is_busy(ClientError(response, "TransactWriteItems")) is True


def test_a_transaction_cancelled_for_a_failed_condition_is_not_busy():
    response = {
        "Error": {"Code": "TransactionCanceledException"},
        "CancellationReasons": [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}],
    }

    assert is_busy(ClientError(response, "TransactWriteItems")) is False

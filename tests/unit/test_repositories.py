"""apikit.repositories' own helpers, shared by every repository: an AWS error's code, and which errors are "busy"."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from apikit.errors import ServiceUnavailable
from apikit.repositories import busy_is_unavailable, error_code


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


def test_an_error_without_a_code_is_not_busy_and_is_raised_as_it_is():
    error = ClientError({}, "GetItem")

    with pytest.raises(ClientError) as raised, busy_is_unavailable():
        raise error

    assert raised.value is error


def test_a_throttle_is_a_503_to_retry_after_a_second():
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetItem")

    with pytest.raises(ServiceUnavailable) as raised, busy_is_unavailable():
        raise throttled

    assert raised.value.headers == {"Retry-After": "1"}
    assert raised.value.__cause__ is throttled

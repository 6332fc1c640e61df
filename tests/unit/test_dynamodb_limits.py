"""tests/dynamodb_limits.py refuses what DynamoDB refuses and moto lets through: each check can fail."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dynamodb_limits import DynamoDBWouldRefuse, check

SCHEMAS = {"T": {"pk": "HASH"}}


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"Key": {"pk": {"S": "x" * 2049}}}, id="partition-key-over-2048-bytes"),
        pytest.param({"Item": {"pk": {"S": "k"}, "n": {"N": "None"}}}, id="item-number-not-a-number"),
        pytest.param({"ExpressionAttributeValues": {":v": {"N": ""}}}, id="empty-number"),
        pytest.param({"ExpressionAttributeValues": {":v": {"N": "Infinity"}}}, id="infinite-number"),
        pytest.param({"ExpressionAttributeValues": {":v": {"NS": ["1", "x"]}}}, id="number-set-member"),
        pytest.param({"ExpressionAttributeValues": {":v": {"M": {"a": {"L": [{"N": "1e"}]}}}}}, id="nested-number"),
        pytest.param({"ConditionExpression": "a IN (" + ",".join(f":v{n}" for n in range(101)) + ")"}, id="in-101"),
        pytest.param({"UpdateExpression": "SET a = :" + "v" * 4096}, id="expression-over-4-kb"),
    ],
)
def test_what_dynamodb_refuses_is_refused(params: dict[str, Any]):
    with pytest.raises(DynamoDBWouldRefuse):
        check("UpdateItem", {"TableName": "T", **params}, SCHEMAS)


def test_what_dynamodb_takes_passes():
    check(
        "UpdateItem",
        {
            "TableName": "T",
            "Key": {"pk": {"S": "x" * 2048}},
            "ExpressionAttributeValues": {":n": {"N": "-1.5E+3"}, ":s": {"NS": ["1", "2"]}, ":t": {"S": "None"}},
            "ConditionExpression": "a IN (" + ",".join(f":v{n}" for n in range(100)) + ")",
        },
        SCHEMAS,
    )

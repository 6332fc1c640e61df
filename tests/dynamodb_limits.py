"""DynamoDB's documented request limits that moto does not enforce, checked on every request the layer sends in the
unit tests: a handler that would send DynamoDB a request it rejects (a 500 on AWS, a pass on moto) fails here.

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

MAX_IN_OPERANDS = 100  # "a IN (b, c, d)": up to 100 values in the list
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
MAX_ITEM_BYTES = 400 * 1024
MAX_TRANSACTION_ITEMS = 100
MAX_EXPRESSION_BYTES = 4096

_TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheck",
}
_IN_LIST = re.compile(r"\bIN\s*\(([^)]*)\)", re.IGNORECASE)


class DynamoDBWouldRefuse(AssertionError):
    """The request breaks a DynamoDB limit: AWS would answer ValidationException, whatever moto says."""


def key_schemas(tables: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """{table or index name: {attribute: HASH|RANGE}} from template.yaml's tables (devserver.template.table_properties:
    named by logical id here)."""
    schemas: dict[str, dict[str, str]] = {}
    for logical_id, properties in tables.items():
        schemas[logical_id] = {key["AttributeName"]: key["KeyType"] for key in properties.get("KeySchema", [])}
        for index in properties.get("GlobalSecondaryIndexes", []):
            schemas[f"{logical_id}/{index['IndexName']}"] = {
                key["AttributeName"]: key["KeyType"] for key in index["KeySchema"]
            }
    return schemas


def _value_bytes(value: dict[str, Any]) -> int:
    """A value's size as DynamoDB counts it (an upper bound for numbers: 21 bytes at most)."""
    [(kind, content)] = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "B":
        return len(content)
    if kind == "N":
        return min(21, len(str(Decimal(content))))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: member}) for member in content)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(member) for member in content)
    if kind == "M":
        return 3 + sum(len(name.encode()) + 1 + _value_bytes(member) for name, member in content.items())
    raise DynamoDBWouldRefuse(f"unknown attribute value type {kind}")


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _check_keys(key: dict[str, Any], schema: dict[str, str], where: str) -> None:
    for name, value in key.items():
        kind = schema.get(name)
        if kind is None:
            continue
        limit = MAX_PARTITION_KEY_BYTES if kind == "HASH" else MAX_SORT_KEY_BYTES
        size = _value_bytes(value)
        if size > limit:
            raise DynamoDBWouldRefuse(f"{where}: key attribute {name} is {size} bytes, over DynamoDB's {limit}")


def _check_expressions(params: dict[str, Any], where: str) -> None:
    for field in ("ConditionExpression", "FilterExpression", "KeyConditionExpression", "UpdateExpression"):
        expression = params.get(field)
        if expression is None:
            continue
        if len(expression.encode()) > MAX_EXPRESSION_BYTES:
            raise DynamoDBWouldRefuse(f"{where}: {field} is over {MAX_EXPRESSION_BYTES} bytes")
        for operands in _IN_LIST.findall(expression):
            count = len([operand for operand in operands.split(",") if operand.strip()])
            if count > MAX_IN_OPERANDS:
                raise DynamoDBWouldRefuse(f"{where}: IN with {count} operands, over DynamoDB's {MAX_IN_OPERANDS}")


def _check_numbers(value: Any, where: str) -> None:
    """Every N (and NS member) must be a number as DynamoDB reads one: moto stores "None" or "" without a word."""
    if isinstance(value, list):
        for member in value:
            _check_numbers(member, where)
    elif isinstance(value, dict):
        for kind, content in value.items():
            numbers = [content] if kind == "N" else content if kind == "NS" else None
            if numbers is None:
                _check_numbers(content, where)
                continue
            for number in numbers:
                try:
                    finite = isinstance(number, str) and Decimal(number).is_finite()
                except ArithmeticError:
                    finite = False
                if not finite:
                    raise DynamoDBWouldRefuse(f"{where}: {number!r} is not a number DynamoDB takes")


def check(operation: str, params: dict[str, Any], schemas: dict[str, dict[str, str]]) -> None:
    """Raise DynamoDBWouldRefuse if DynamoDB would refuse this request (`params` as the client was called)."""
    if operation == "TransactWriteItems":
        items = params.get("TransactItems", [])
        if len(items) > MAX_TRANSACTION_ITEMS:
            raise DynamoDBWouldRefuse(f"TransactWriteItems with {len(items)} items, over {MAX_TRANSACTION_ITEMS}")
        for item in items:
            [(kind, action)] = item.items()
            check(_TRANSACTION_ACTIONS[kind], action, schemas)
        return
    table = params.get("TableName", "")
    schema = schemas.get(f"{table}/{params['IndexName']}" if "IndexName" in params else table, {})
    where = f"{operation} on {table}"
    _check_expressions(params, where)
    for field in ("Key", "Item", "ExpressionAttributeValues", "ExclusiveStartKey"):
        _check_numbers(params.get(field), f"{where} {field}")
    for field in ("Key", "ExclusiveStartKey"):
        if field in params:
            # ExclusiveStartKey holds the table's key and, on an index, the index's key too.
            _check_keys(params[field], {**schemas.get(table, {}), **schema}, f"{where} {field}")
    if "Item" in params:
        _check_keys(params["Item"], schema, f"{where} Item")
        size = item_bytes(params["Item"])
        if size > MAX_ITEM_BYTES:
            raise DynamoDBWouldRefuse(f"{where}: an item of {size} bytes, over DynamoDB's {MAX_ITEM_BYTES}")


def enforce_on(client: Any, schemas: dict[str, dict[str, str]]) -> None:
    """Check every request of this boto3 DynamoDB client before it is sent (once per client), and answer a Query
    that stops at its Limit as DynamoDB may (below)."""

    def before_call(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        check(model.name, params, schemas)
        if model.name == "Query" and "Limit" in params:
            table = params["TableName"]
            index = schemas.get(f"{table}/{params['IndexName']}" if "IndexName" in params else table, {})
            context["dynamodb-limits"] = (params["Limit"], [*schemas.get(table, {}), *index])

    def after_call(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        limit, key = context.get("dynamodb-limits", (None, []))
        items = parsed.get("Items") or []
        if limit is not None and len(items) == limit and "LastEvaluatedKey" not in parsed:
            parsed["LastEvaluatedKey"] = {name: items[-1][name] for name in key if name in items[-1]}

    client.meta.events.register("provide-client-params.dynamodb", before_call, unique_id="dynamodb-limits")
    # A Query that stops at its Limit may hand back a LastEvaluatedKey with nothing after it: "If LastEvaluatedKey is
    # not empty, it does not necessarily mean that there is more data in the result set". moto gives one only when
    # more items exist; here every such Query gets one, so a list that shows an empty last page fails its tests.
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html#DDB-Query-response-LastEvaluatedKey
    client.meta.events.register("after-call.dynamodb.Query", after_call, unique_id="dynamodb-limits-pages")

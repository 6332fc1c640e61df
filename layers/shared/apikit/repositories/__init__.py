"""One repository per table. They share one boto3 DynamoDB client, created on first use and then reused
for the life of the execution environment."""

from functools import cache
from typing import Any

import boto3


@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")

"""One repository per table. They share one boto3 DynamoDB client (apikit.aws), created on first use and then
reused for the life of the execution environment."""

from apikit.aws import cancellation_reasons, dynamodb, error_code, is_busy

__all__ = ["cancellation_reasons", "dynamodb", "error_code", "is_busy"]

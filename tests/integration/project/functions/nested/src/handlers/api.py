import logging
from decimal import Decimal


def main(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "text":
        return "hello world"  # inferred format: a string is the body as it is
    if mode == "error-shaped":  # returned, not raised: a result like any other, as on Lambda
        return {"errorMessage": "not really", "errorType": "ValueError"}
    if mode == "untyped":
        return {"statusCode": 200, "body": '{"plain": true}'}
    if mode == "empty":
        return {"statusCode": 204}
    if mode == "dict-body":
        return {"statusCode": 200, "body": {"a": 1}}  # the body must be a string
    if mode == "split-header":  # a line break in a value would start a header, or a response, of its own
        return {"statusCode": 200, "headers": {"x-next": "a\r\nSet-Cookie: stolen=1"}, "body": ""}
    if mode == "header-values":
        return {"statusCode": 200, "headers": {"x-flag": True, "x-count": 3}, "body": ""}
    if mode == "log":
        logging.basicConfig(level=logging.INFO)  # the runtime's handler is already there: this does nothing
        logging.info("hidden info line")
        logging.warning("shown warning line")
        return {"statusCode": 200, "body": context.aws_request_id}
    # What a DynamoDB item looks like to boto3: Decimal numbers, and bytes.
    return {"count": Decimal("3"), "price": Decimal("2.5"), "raw": b"bytes"}

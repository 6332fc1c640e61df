import base64
import json
import os


def lambda_handler(event, context):
    if event.get("isBase64Encoded"):
        # Binary in, the same bytes back out.
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": event["body"],
            "isBase64Encoded": True,
        }
    environment = {
        name: os.environ.get(name)
        for name in ("GREETING", "TABLE", "TABLE_ARN", "FROM_ENV_JSON", "AWS_ENDPOINT_URL_DYNAMODB")
    }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-echo": "1", "access-control-allow-origin": "https://evil"},
        "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
        "body": json.dumps(
            {
                "event": event,
                "environment": environment,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "b64": base64.b64encode(b"x").decode(),
            }
        ),
    }

import base64
import importlib.metadata
import importlib.util
import json
import os
import sys


def lambda_handler(event, context):
    if event.get("isBase64Encoded"):
        # Binary in, the same bytes back out.
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/octet-stream"},
            "body": event["body"],
            "isBase64Encoded": True,
        }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json", "x-echo": "1", "access-control-allow-origin": "https://evil"},
        "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
        "body": json.dumps(
            {
                "event": event,
                "environment": dict(os.environ),
                "remaining_ms": context.get_remaining_time_in_millis(),
                "context": {
                    name: getattr(context, name)
                    for name in (
                        "function_name",
                        "function_version",
                        "invoked_function_arn",
                        "memory_limit_in_mb",
                        "aws_request_id",
                        "log_group_name",
                        "log_stream_name",
                    )
                },
                # What this function can import: only the standard library, its layers and the runtime's boto3.
                "importable": {
                    name: importlib.util.find_spec(name) is not None
                    for name in (
                        "requests",
                        "werkzeug",
                        "moto",
                        "yaml",
                        "pytest",
                        "devserver",
                        "idna",
                        "extra",
                        "boto3",
                    )
                },
                "boto3": importlib.metadata.version("boto3"),
                "sys_path": sys.path,
                "cwd": os.getcwd(),
                "b64": base64.b64encode(b"x").decode(),
            }
        ),
    }

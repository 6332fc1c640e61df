import json
import time
from pathlib import Path


def lambda_handler(event, context):
    query = event.get("queryStringParameters") or {}
    time.sleep(float(query.get("sleep", "0")))
    if "marker" in query:  # proves the function ran on after API Gateway stopped waiting
        Path(query["marker"]).write_text(json.dumps({"remaining_ms": context.get_remaining_time_in_millis()}))
    return {"statusCode": 200, "body": "done", "headers": {"content-type": "text/plain"}}

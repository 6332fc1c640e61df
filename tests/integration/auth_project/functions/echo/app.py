import json


def handler(event, context):
    # One line per call, so that a test can tell whether this function ran for a request of its own.
    print("ECHO", event.get("rawQueryString") or json.dumps(event.get("multiValueQueryStringParameters")))
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}

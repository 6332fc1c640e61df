MESSAGE = "v1"


def lambda_handler(event, context):
    return {"statusCode": 200, "body": MESSAGE, "headers": {"content-type": "text/plain"}}

import requests  # declared in this function's own requirements.txt


def lambda_handler(event, context):
    return {"statusCode": 200, "body": requests.__version__, "headers": {"content-type": "text/plain"}}

import time


def lambda_handler(event, context):
    time.sleep(30)
    return {"statusCode": 200, "body": "too late"}

import requests  # declared nowhere: fails at init, as on Lambda


def lambda_handler(event, context):
    return {"statusCode": 200, "body": requests.__version__}

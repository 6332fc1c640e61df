import greeting  # from the CommonLayer


def lambda_handler(event, context):
    return {"statusCode": 200, "body": greeting.WORD, "headers": {"content-type": "text/plain"}}

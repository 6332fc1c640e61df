import extra  # from ExtraLayer, which Globals gives every function
import greeting  # from the CommonLayer
import idna  # installed from CommonLayer's requirements.txt


def lambda_handler(event, context):
    body = f"{greeting.WORD} {extra.NAME} idna {idna.__version__}" if event["rawQueryString"] else greeting.WORD
    return {"statusCode": 200, "body": body, "headers": {"content-type": "text/plain"}}

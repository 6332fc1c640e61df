import os


def lambda_handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "exit":
        os._exit(1)  # the process dies, as an out-of-memory kill or segfault would
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "bad":
        return {"statusCode": "not a number"}
    return {"pid": os.getpid()}  # inferred format: a plain dict becomes a 200 JSON body

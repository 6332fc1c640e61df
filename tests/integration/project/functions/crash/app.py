import os
import sys


def lambda_handler(event, context):
    mode = (event.get("queryStringParameters") or {}).get("mode")
    if mode == "exit":
        os._exit(1)  # the process dies, as an out-of-memory kill or segfault would
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "bad":
        return {"statusCode": "not a number"}
    if mode == "big":
        return {"statusCode": 200, "body": "x" * (7 * 1024 * 1024)}  # over Lambda's 6 MB response limit
    if mode == "hog":
        hog = bytearray(400 * 1024 * 1024)  # over this function's MemorySize of 256 MB
        return {"statusCode": 200, "body": str(len(hog))}
    if mode == "partial":
        sys.stdout.write("a line without its end")
        return {"statusCode": 204}
    if mode == "unserializable":
        return {"statusCode": 200, "body": {1, 2}}  # a set: JSON cannot carry it
    return {"pid": os.getpid()}  # inferred format: a plain dict becomes a 200 JSON body

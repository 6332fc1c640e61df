"""A Lambda authorizer of both kinds: the token in X-Token decides. `good...` is allowed, `crash` raises, `garbage`
answers what no authorizer may; with simple responses (payload 2.0) the answer is isAuthorized, otherwise an IAM
policy on the route ARN (`good-elsewhere` allows another route only, `deny` denies this one explicitly)."""

import json


def handler(event, context):
    print("AUTHORIZER-EVENT", json.dumps(event))
    token = event["headers"].get("x-token", "")
    if token == "crash":
        raise RuntimeError("the authorizer failed")
    if token == "garbage":
        return {"allow": "yes"}
    details = {"user": token, "level": 3, "admin": False, "teams": ["a", "b"]}
    if event["version"] == "2.0":
        return {"isAuthorized": token.startswith("good"), "context": details}
    arn = event["methodArn"]
    stage_and_api = arn.rsplit("/", 3)[0]  # arn:...:{api}/{stage}/{method}/{path...} without method and path
    if token == "good-elsewhere":
        statements = [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": stage_and_api + "/POST/*"}]
    elif token == "deny":
        statements = [
            {"Action": "execute-api:*", "Effect": "Allow", "Resource": "*"},
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": arn},
        ]
    else:
        statements = [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": stage_and_api + "/GET/policy/*"}]
    return {
        "principalId": "user-" + token,
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
        "context": details,
    }

"""Transform template.yaml with the SAM translator, offline, as `sam deploy` would before CloudFormation sees it."""

import os
import sys

from cfnlint.decode import decode
from samtranslator.translator.transform import transform


class OfflinePolicyLoader:
    """The AWS managed policies SAM may attach; the real loader would ask IAM for them."""

    def load(self) -> dict[str, str]:
        names = ["service-role/AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSXRayDaemonWriteAccess"]
        return {name.rsplit("/", 1)[-1]: f"arn:aws:iam::aws:policy/{name}" for name in names}


def main(path: str) -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template, matches = decode(path)
    if matches:
        print(*matches, sep="\n")
        return 1
    # `sam package` uploads local code first; stand in for that with placeholder S3 URIs.
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://packaged/{properties[key].strip('/')}"
    resources = transform(template, {}, OfflinePolicyLoader())["Resources"]
    print(f"{path}: SAM transform OK, {len(resources)} CloudFormation resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))

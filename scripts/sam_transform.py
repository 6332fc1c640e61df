"""Transform template.yaml with the SAM translator, offline, as `sam deploy` would before CloudFormation sees it.

The template lists AWS::LanguageExtensions before SAM's transform, so CloudFormation expands its Fn::ForEach loops
first; so does this (devserver/template.py's expand_foreach), then it runs SAM's translator on the result.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-languageextensions.html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from devserver.template import load_template, read_template


class OfflinePolicyLoader:
    """The AWS managed policies SAM may attach; the real loader would ask IAM for them."""

    def load(self) -> dict[str, str]:
        names = ["service-role/AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSXRayDaemonWriteAccess"]
        return {name.rsplit("/", 1)[-1]: f"arn:aws:iam::aws:policy/{name}" for name in names}


def transformed(path: str | Path) -> dict[str, Any]:
    """The CloudFormation template SAM's transform makes of the template at path, its loops expanded first."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = load_template(path)
    # `sam package` uploads local code first; stand in for that with placeholder S3 URIs.
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://packaged/{properties[key].strip('/')}"
    result: dict[str, Any] = transform(template, {}, OfflinePolicyLoader())
    return result


def sam_cli_agrees(path: str) -> list[str]:
    """The logical ids SAM CLI's own expansion (what `sam build` and `sam local` run) makes of the template, against
    the dev server's: a loop the two read differently would serve locally what is not deployed. Only the ids: SAM
    CLI also resolves other intrinsics locally (it drops the Fn::Sub around ${AWS::StackName}), CloudFormation not."""
    from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions

    raw = read_template(path)
    theirs = expand_language_extensions(raw, {}, enabled=True).expanded_template.get("Resources", {})
    ours = load_template(path).get("Resources", {})
    return [f"only SAM CLI makes {key}" for key in sorted(set(theirs) - set(ours))] + [
        f"only the dev server makes {key}" for key in sorted(set(ours) - set(theirs))
    ]


def main(path: str) -> int:
    _, matches = decode(path)  # cfn-lint's reader: says where a YAML error is
    if matches:
        print(*matches, sep="\n")
        return 1
    disagreements = sam_cli_agrees(path)
    if disagreements:
        print(f"{path}: Fn::ForEach expanded differently:", *disagreements, sep="\n  ")
        return 1
    resources = transformed(path)["Resources"]
    print(f"{path}: loops expanded as SAM CLI does; SAM transform OK, {len(resources)} CloudFormation resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yaml"))

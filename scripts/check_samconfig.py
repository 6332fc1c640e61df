"""Check samconfig.toml against template.yaml offline, as `sam deploy` would read it.

Each environment must name a stack and a region, and every parameter override must be a template parameter with
an allowed value: CloudFormation would only refuse a typo once the deploy has started. A template with Fn::ForEach
needs `language_extensions = true` for the commands that read it (sam build, deploy, local...), which otherwise fail
on the loop. Run with the tools venv.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cfnlint.decode import decode
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.config.samconfig import SamConfig

ENVIRONMENTS = ("default", "dev", "prod")


def main(config_dir: Path, template_path: Path) -> int:
    template, matches = decode(str(template_path))
    if matches or template is None:
        print(*matches, sep="\n")
        return 1
    parameters = template.get("Parameters", {})
    config = SamConfig(str(config_dir))
    problems = []
    loops = any(str(key).startswith("Fn::ForEach::") for key in template.get("Resources", {}))
    for env in ENVIRONMENTS:
        for command in (["build"], ["deploy"], ["local", "start-api"]):
            if loops and config.get_all(command, "parameters", env).get("language_extensions") is not True:
                problems.append(f"[{env}] sam {' '.join(command)}: no language_extensions = true for the Fn::ForEach")
        settings = {**config.get_all(["global"], "parameters", env), **config.get_all(["deploy"], "parameters", env)}
        for key in ("stack_name", "region", "capabilities", "parameter_overrides"):
            if not settings.get(key):
                problems.append(f"[{env}] no {key}")
        overrides = CfnParameterOverridesType().convert(settings.get("parameter_overrides", ""), None, None)
        for name, value in overrides.items():
            allowed = parameters.get(name, {}).get("AllowedValues")
            if name not in parameters:
                problems.append(f"[{env}] {name} is not a parameter of {template_path}")
            elif allowed is not None and value not in [str(item) for item in allowed]:
                problems.append(f"[{env}] {name}={value} is not one of {allowed}")
    for problem in problems:
        print(f"samconfig.toml: {problem}", file=sys.stderr)
    if not problems:
        print(f"samconfig.toml: {', '.join(ENVIRONMENTS)} name a stack and region; {template_path} takes each override")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path("."), Path(sys.argv[1] if len(sys.argv) > 1 else "template.yaml")))

"""What `sam local start-api` needs to run this project's functions against a local AWS (moto), after `sam build`:

    python scripts/sam_local_env.py --endpoint http://172.17.0.1:5000
    sam local start-api -t .aws-sam/build/template.sam-local.json --env-vars .aws-sam/build/env.sam-local.json

- env.sam-local.json gives every function every variable of its environment as the dev server resolves it (tables,
  the bucket and secrets named as the dev server creates them, from their logical ids), plus AWS_ENDPOINT_URL, which
  points every SDK client at the endpoint (an address the functions' containers can reach: not 127.0.0.1).
- template.sam-local.json is the built template with AWS_ENDPOINT_URL declared in Globals, because sam local passes
  a function only the env.json variables its template declares (samcli/local/lambdafn/env_vars.py). The built
  template.yaml, which `sam deploy` uses, stays as it is.

The tables, bucket and secrets themselves are created in the endpoint by the dev server at its start
(`make dev ARGS="--aws-endpoint http://127.0.0.1:5000"`). See docs/sam-local.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devserver.template import load_app, load_template, parse_parameter_overrides

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"


def environments(built: Path, endpoint: str, overrides: dict[str, str], region: str) -> dict[str, dict[str, str]]:
    """env.json: each function's variables as the dev server gives them, and the endpoint."""
    app = load_app(built, overrides, region=region)
    return {
        logical_id: {**function.environment, ENDPOINT_VARIABLE: endpoint}
        for logical_id, function in sorted(app.functions.items())
    }


def declaring_the_endpoint(template: dict[str, Any]) -> dict[str, Any]:
    """The template with AWS_ENDPOINT_URL declared (empty) for every function, through Globals."""
    function_globals = template.setdefault("Globals", {}).setdefault("Function", {})
    variables = function_globals.setdefault("Environment", {}).setdefault("Variables", {})
    variables[ENDPOINT_VARIABLE] = ""
    return template


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--endpoint", required=True, help="the local AWS, as the functions' containers reach it")
    options.add_argument("--built", default=".aws-sam/build/template.yaml", help="the template `sam build` wrote")
    options.add_argument("--parameter-overrides", help="template parameters, as given to sam local: 'Key=Value ...'")
    options.add_argument("--region", default="us-east-1", help="the region the local AWS holds the resources in")
    args = options.parse_args(argv)
    built = Path(args.built)
    overrides = parse_parameter_overrides(args.parameter_overrides)
    env_vars = built.with_name("env.sam-local.json")
    env_vars.write_text(json.dumps(environments(built, args.endpoint, overrides, args.region), indent=2) + "\n")
    template = built.with_name("template.sam-local.json")  # next to the built one: CodeUri and ContentUri stay right
    template.write_text(json.dumps(declaring_the_endpoint(load_template(built)), indent=1) + "\n")
    print(f"sam local start-api -t {template} --env-vars {env_vars}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One warm Lambda execution environment in its own process, for tests/unit/test_concurrency.py.

`python -m tests.unit.lambda_worker <function>` imports functions/<function>/app.py, warms up (secret and
DynamoDB client), prints READY, reads one event as a JSON line from stdin, invokes the handler once and prints
`RESULT <response JSON>`. AWS settings come from the environment, AWS_ENDPOINT_URL included.

A process per invocation, as on Lambda: Powertools keeps the current event on the resolver class, so two
invocations must never run at once in one interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Context:
    function_name = "concurrency-worker"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:concurrency-worker"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main(function: str) -> None:
    spec = importlib.util.spec_from_file_location("app", ROOT / "functions" / function / "app.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    from apikit.auth import signing_key
    from apikit.repositories import dynamodb

    signing_key()
    dynamodb()
    print("READY", flush=True)

    event = json.loads(sys.stdin.readline())
    response = module.lambda_handler(event, Context())
    print("RESULT " + json.dumps(response), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""One warm Lambda execution environment in its own process, for tests/unit/test_concurrency.py.

`python -m tests.unit.lambda_worker <function>` imports functions/<function>/app.py, warms up (secret and
DynamoDB client), prints READY, reads one event as a JSON line from stdin, invokes the handler once and prints
`RESULT <response JSON>`. AWS settings come from the environment, AWS_ENDPOINT_URL included.

A process per invocation, as on Lambda: Powertools keeps the current event on the resolver class, so two
invocations must never run at once in one interpreter.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from devserver.worker import LambdaContext, load_module

ROOT = Path(__file__).resolve().parents[2]


def main(function: str) -> None:
    module = load_module(ROOT / "functions" / function / "app.py", "app")

    from apikit.repositories import dynamodb
    from apikit.secrets import get_secret

    get_secret("JWT_PUBLIC_KEYS_ARN")  # warm, as the first request of a container would leave it
    dynamodb()
    print("READY", flush=True)

    event = json.loads(sys.stdin.readline())
    response = module.lambda_handler(event, LambdaContext("concurrency-worker", 512, 10))
    print("RESULT " + json.dumps(response), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

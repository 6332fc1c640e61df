"""An AWS endpoint on 127.0.0.1 that fails the way a real one sometimes does, given to boto3 the way a user would
give any endpoint (AWS_ENDPOINT_URL_<SERVICE>, or the dev server's --aws-endpoint).

`fault`: every request gets a 500 InternalServerError in the JSON protocol (DynamoDB, Secrets Manager).
`silent`: every request is read and never answered, as behind a black-holing load balancer.
"""

from __future__ import annotations

import json
import threading

from tests.fakes.loopback import LoopbackHandler, LoopbackServer


class _Handler(LoopbackHandler):
    def respond(self, body: bytes, headers: dict[str, str]) -> None:
        fake: FaultyAwsEndpoint = self.server.fake  # type: ignore[attr-defined]
        fake.received(headers.get("x-amz-target", ""))
        if fake.mode == "silent":
            fake.stopping.wait()  # until the test ends: the client must give up by itself
            return
        answer = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "boom"})
        self.send_response(500)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("x-amzn-ErrorType", "InternalServerError")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())


class FaultyAwsEndpoint(LoopbackServer):
    def __init__(self, mode: str) -> None:
        assert mode in ("fault", "silent")
        super().__init__(_Handler)
        self.mode = mode
        self.stopping = threading.Event()
        self.targets: list[str] = []  # X-Amz-Target of every request received (one per attempt)
        self._targets_lock = threading.Lock()

    def received(self, target: str) -> None:
        with self._targets_lock:
            self.targets.append(target)

    def stop(self) -> None:
        self.stopping.set()
        super().stop()

"""One warm Lambda execution environment: imports the handler once, then runs one invocation at a time.

Runs in its own process (spawned by devserver.pool), so this module imports nothing heavy of its own.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any


@dataclass(frozen=True)
class WorkerSpec:
    function_name: str
    code_dir: str
    layer_dirs: tuple[str, ...]
    handler: str
    memory_mb: int
    timeout: int
    environment: dict[str, str]


class LambdaContext:
    """The `context` argument Lambda passes to handlers."""

    def __init__(self, spec: WorkerSpec, request_id: str) -> None:
        self.function_name = spec.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{spec.function_name}"
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def max_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux


def serve(connection: Connection, spec: WorkerSpec) -> None:
    """Entry point of the worker process: init, report, then loop on invocations until the pipe closes."""
    os.environ.update(spec.environment)
    os.chdir(spec.code_dir)  # Lambda's working directory is the function's code (/var/task)
    sys.path[:0] = [spec.code_dir, *spec.layer_dirs]
    started = time.perf_counter()
    try:
        module_name, _, function_name = spec.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException:
        traceback.print_exc()
        connection.send(("init_error", None, (time.perf_counter() - started) * 1000, max_memory_mb()))
        return
    connection.send(("ready", None, (time.perf_counter() - started) * 1000, max_memory_mb()))
    while True:
        try:
            event: dict[str, Any] = connection.recv()
        except EOFError:
            return
        context = LambdaContext(spec, str(uuid.uuid4()))
        started = time.perf_counter()
        try:
            # Lambda hands the result back as JSON, so anything json cannot encode is an error here too.
            outcome, payload = "ok", json.dumps(handler(event, context))
        except Exception as error:
            traceback.print_exc()
            outcome, payload = "error", json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})
        sys.stdout.flush()
        connection.send((outcome, payload, (time.perf_counter() - started) * 1000, max_memory_mb()))

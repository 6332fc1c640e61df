"""One warm Lambda execution environment: imports the handler once, then runs one invocation at a time.

Runs in its own process (spawned by devserver.pool), so this module imports nothing heavy of its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import resource
import sys
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
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
    """The `context` argument Lambda passes to handlers (tests and benchmarks use it too)."""

    def __init__(self, function_name: str, memory_mb: int = 128, timeout: int = 3, request_id: str = "") -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_module(path: Path, name: str) -> ModuleType:
    """Import one handler file under a name of its own: every function's module is called `app`."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        context = LambdaContext(spec.function_name, spec.memory_mb, spec.timeout)
        started = time.perf_counter()
        try:
            # Lambda hands the result back as JSON, so anything json cannot encode is an error here too.
            outcome, payload = "ok", json.dumps(handler(event, context))
        except Exception as error:
            traceback.print_exc()
            outcome, payload = "error", json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})
        sys.stdout.flush()
        connection.send((outcome, payload, (time.perf_counter() - started) * 1000, max_memory_mb()))

"""One warm Lambda execution environment: imports the handler once, then runs one invocation at a time.

devserver.pool starts this file as a script in its own interpreter, `python -I -S -u worker.py FD`: no site-packages,
no PYTHON* variables, an environment that holds only what Lambda sets. So it imports nothing but the standard
library until the pool's first message says which directories make up the function's sys.path. It talks to the
pool over the socket FD with multiprocessing's Connection (pickled tuples of plain values).
"""

from __future__ import annotations

import atexit
import decimal
import importlib
import importlib.util
import io
import json
import logging
import os
import resource
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn, cast

ACCOUNT_ID = "123456789012"  # the stable fake account of the dev server (devserver.template.ACCOUNT_ID)


class LambdaContext:
    """The `context` argument Lambda passes to handlers (tests and benchmarks use it too).
    https://docs.aws.amazon.com/lambda/latest/dg/python-context.html"""

    def __init__(
        self, function_name: str, memory_mb: int = 128, timeout: int = 3, request_id: str = "", region: str = ""
    ) -> None:
        region = region or os.environ.get("AWS_REGION", "us-east-1")
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{function_name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self.identity = None  # set only for calls from the AWS Mobile SDK
        self.client_context = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_module(path: Path, name: str) -> ModuleType:
    """Import one handler file under a name of its own: every function's module is called `app`.

    Registered in sys.modules before it runs, as `import` does (importlib's "Importing a source file directly"
    recipe): pydantic looks a model's module up there, so `class Echo(RootModel[JsonValue])` at module level fails
    with a KeyError without it. A module that fails to run is removed again, as `import` removes it.
    """
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if sys.modules.get(name) is module:
            del sys.modules[name]
        raise
    return module


def max_memory_mb() -> int:
    """This process's own peak resident memory, as Lambda's "Max Memory Used". Not getrusage's ru_maxrss alone:
    Linux carries it over fork and exec, so a worker started by a large process (pytest, a dev server that has run
    for hours) would report that process's peak as its own, and be stopped as over its MemorySize. VmHWM is the
    process's own (https://www.kernel.org/doc/html/latest/filesystems/proc.html)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // (1024 * 1024) if sys.platform == "darwin" else peak // 1024  # bytes on macOS, KiB on Linux


def error_payload(error_type: str, message: str, request_id: str, error: BaseException) -> str:
    """The error document the Lambda python runtime returns and logs (`[ERROR] type: message` + traceback);
    an init error has no request id and an empty stackTrace there, so here too. Our own frames are left out."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename != __file__]
    stack = traceback.format_list(frames) if request_id else []
    lines = traceback.format_exception_only(error)
    if frames:
        lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames), *lines]
    sys.stderr.write(f"[ERROR] {error_type}: {message}\n{''.join(lines)}")
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack})


def import_handler(handler: str) -> Any:
    """Import `module.function` (or `path/to/module.function`) as the runtime does, raising its errors with its
    names and messages (awslambdaric's bootstrap.py)."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        raise InitError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values to unpack")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InitError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from error
    except SyntaxError as error:
        raise InitError("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}") from error
    try:
        return getattr(module, function_name)
    except AttributeError as error:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        raise InitError("Runtime.HandlerNotFound", message) from error


class InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


current_request_id = ""


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = current_request_id
        return True


def setup_logging() -> None:
    """The root logger as the runtime leaves it: one handler in Lambda's text format, level WARNING. So
    `logging.basicConfig()` does nothing and `logging.info()` prints nothing, here as on Lambda."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", datefmt="%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


def serve(connection: Connection) -> None:
    """Init, report, then loop on invocations until the pipe closes."""
    setup: dict[str, Any] = connection.recv()
    time.tzset()  # TZ=:UTC, as on Lambda
    setup_logging()
    os.chdir(setup["code_dir"])  # Lambda's working directory is the function's code (/var/task)
    sys.path[:0] = setup["path"]
    started = time.perf_counter()
    try:
        if setup.get("debug"):  # before the handler's import, so that breakpoints at module level work too
            wait_for_debugger(connection, *setup["debug"])
            started = time.perf_counter()  # the wait is no part of the init's duration
        handler = import_handler(setup["handler"])
        outcome, payload = "ready", None
    except BaseException as error:  # any exception at import time fails the init, as on Lambda
        if isinstance(error, InitError):
            payload = error_payload(error.error_type, error.message, "", error.__cause__ or error)
        else:
            payload = error_payload(type(error).__name__, str(error), "", error)
        outcome = "init_error"
    end_lines()
    connection.send((outcome, payload, (time.perf_counter() - started) * 1000, max_memory_mb()))
    if outcome != "ready":
        return
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    while True:
        try:
            event_json, request_id, trace_id = connection.recv()
        except EOFError:
            return
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
        context = LambdaContext(function_name, memory_mb, setup["timeout"], request_id)
        started = time.perf_counter()
        outcome, result = invoke(handler, json.loads(event_json), context)
        duration_ms, memory_used = (time.perf_counter() - started) * 1000, max_memory_mb()
        if memory_used > memory_mb:
            # Lambda stops an environment that goes over its MemorySize: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html
            message = f"Runtime exited with error: signal: killed (Max Memory Used {memory_used} MB > {memory_mb} MB)"
            sys.stderr.write(f"{context.aws_request_id} Error: {message}\nRuntime.ExitError\n")
            outcome, result = "oom", ""
        end_lines()
        connection.send((outcome, result or None, duration_ms, memory_used))
        if outcome == "oom":
            return


class ResultEncoder(json.JSONEncoder):
    """What the runtime's marshaller also accepts: Decimal (DynamoDB's numbers) as a JSON number, bytes as text."""

    def default(self, value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, bytes):
            return value.decode("utf-8")
        return super().default(value)


def invoke(handler: Any, event: dict[str, Any], context: LambdaContext) -> tuple[str, str]:
    global current_request_id
    current_request_id = context.aws_request_id
    try:
        result = handler(event, context)
    except Exception as error:
        return "error", error_payload(type(error).__name__, str(error), context.aws_request_id, error)
    try:
        # Lambda hands the result back as JSON, so anything it cannot encode is an error here too.
        return "ok", json.dumps(result, cls=ResultEncoder, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        return "error", error_payload("Runtime.MarshalError", message, context.aws_request_id, error)


class LineStream(io.TextIOWrapper):
    """stdout and stderr written a whole line at a time (workers share the console and never split each other's
    lines), with the last line of an invocation always ended, as Lambda ends each log event."""

    ended = True

    def write(self, text: str) -> int:
        if text:
            self.ended = text.endswith("\n")
        return super().write(text)

    def end_line(self) -> None:
        if not self.ended:
            self.write("\n")
        self.flush()


def end_lines() -> None:
    """Each invocation's output (and the init's) ends with a whole line."""
    for stream in (sys.stdout, sys.stderr):
        stream.end_line() if isinstance(stream, LineStream) else stream.flush()


def exit_without_teardown(code: int) -> NoReturn:
    """End the process at once, as Lambda ends an environment (it freezes it, then stops it, never tearing its
    interpreter down): output ended and flushed, exit handlers run (coverage saves its data in one), then out.
    Freeing every module one by one (boto3's service models, moto's backends) took a worker, moto or the dev
    server a few tenths of a second of CPU, paid by every warm worker at every stop and reload. The dev server's
    command and moto's process end this way too."""
    end_lines()
    atexit._run_exitfuncs()
    os._exit(code)  # pragma: no cover (coverage saved its data just before)


def line_streams() -> None:
    for name in ("stdout", "stderr"):
        raw = cast(io.TextIOWrapper, getattr(sys, name)).detach()
        setattr(sys, name, LineStream(raw, encoding="utf-8", errors="backslashreplace", line_buffering=True))


def start_coverage() -> None:
    """Only under `make test`: measure this process too, then take coverage's traces out of the function's way."""
    location = os.environ.pop("DEVSERVER_COVERAGE_PATH", None)
    if location is None:
        return
    sys.path.insert(0, location)
    try:
        import coverage

        coverage.process_startup()
    finally:
        sys.path.remove(location)
        os.environ.pop("COVERAGE_PROCESS_CONFIG", None)
        os.environ.pop("COVERAGE_PROCESS_START", None)


def wait_for_debugger(connection: Connection, function: str, port: int, location: str) -> None:
    """`--debug-port`: listen for a debugger (VS Code's "attach") and wait until one is attached. debugpy comes from
    the dev server's venv at `location`, which leaves sys.path again, as coverage does (start_coverage). In-process
    (no adapter process of its own, which would outlive the worker): the port is this worker's, and free again as
    soon as the worker exits, so the worker that replaces it after a code reload can listen on it at once."""
    sys.path.insert(0, location)
    try:
        debugpy = importlib.import_module("debugpy")
    finally:
        sys.path.remove(location)
    with socket.socket() as probe:  # in-process, listen() waits forever for a port it cannot bind: say so instead
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise InitError("DebuggerError", f"cannot listen on 127.0.0.1:{port}: {error.strerror}") from error
    debugpy.listen(("127.0.0.1", port), in_process_debug_adapter=True)
    sys.stderr.write(f"{function} is waiting for a debugger to attach on 127.0.0.1:{port}\n")
    sys.stderr.flush()
    attached = threading.Event()

    def exit_with_the_pool() -> None:
        # Nothing arrives on the pipe before this worker reports its init: readable now means the dev server is gone.
        while not attached.is_set():
            if connection.poll(0.2) and not attached.is_set():
                os._exit(0)

    threading.Thread(target=exit_with_the_pool, daemon=True).start()
    debugpy.wait_for_client()
    attached.set()


if __name__ == "__main__":
    # Ctrl-C in the terminal reaches the whole process group: the dev server stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    line_streams()
    start_coverage()
    serve(Connection(int(sys.argv[1])))
    exit_without_teardown(0)

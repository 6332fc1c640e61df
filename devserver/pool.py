"""Warm workers per function, as Lambda keeps execution environments: cold start once, one request each."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from devserver import worker as worker_module
from devserver.runtime import Dependencies, DependencyError, coverage_environment, log_stream_name
from devserver.template import Function

INIT_TIMEOUT_SECONDS = 10  # Lambda's limit on the init phase
WORKER_SCRIPT = str(Path(worker_module.__file__).resolve())


@dataclass(frozen=True)
class Invocation:
    outcome: str  # ok | error (raised) | timeout | crash | init_error | oom | throttled | unavailable (past the 503)
    payload: str | None  # the handler's JSON result, or the runtime's error document
    duration_ms: float
    memory_mb: int
    init_ms: float | None  # set on a cold start
    request_id: str = ""  # Lambda's request id (context.aws_request_id)


@dataclass(frozen=True)
class WorkerSpec:
    """What an execution environment is made of: its import path, its environment, its handler."""

    function_name: str
    code_dir: str
    path: tuple[str, ...]
    handler: str
    timeout: int
    environment: dict[str, str] = field(default_factory=dict)
    pycache: str = ""
    debug_port: int | None = None  # --debug-port: wait for a debugger before the handler's import
    debugpy: str = ""  # where debugpy is installed (the dev server's venv), for that worker only


class Worker:
    """One `python -I -S` process (see devserver.worker): the standard library, and only the paths it is given."""

    def __init__(self, spec: WorkerSpec, generation: int) -> None:
        self.generation = generation
        ours, theirs = socket.socketpair()
        environment = {**spec.environment, "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name()}
        if coverage := coverage_location():
            environment.update({"DEVSERVER_COVERAGE_PATH": coverage, **coverage_environment()})
        # Bytecode goes to the cache, not to __pycache__ folders in the function's code (read-only on Lambda).
        interpreter = [sys.executable, "-I", "-S", "-X", f"pycache_prefix={spec.pycache}"]
        if spec.debug_port is not None:  # frozen standard modules would make the debugger miss breakpoints in them
            interpreter += ["-X", "frozen_modules=off"]
        try:
            self.process = subprocess.Popen(
                [*interpreter, WORKER_SCRIPT, str(theirs.fileno()), spec.function_name],
                env=environment,
                cwd=spec.code_dir,
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        self.connection = Connection(ours.detach())
        debug = (spec.function_name, spec.debug_port, spec.debugpy) if spec.debug_port is not None else None
        self.connection.send(
            {
                "code_dir": spec.code_dir,
                "path": list(spec.path),
                "handler": spec.handler,
                "timeout": spec.timeout,
                "debug": debug,
            }
        )
        self.ready = False

    def send(self, message: Any) -> bool:
        try:
            self.connection.send(message)
        except OSError:
            self.kill()
            return False
        return True

    def receive(self, timeout: float) -> tuple[str, str | None, float, int] | None:
        """The worker's answer; None if it has not answered within `timeout`; ("crash", ...) if it died."""
        try:
            if not self.connection.poll(timeout):
                return None
            outcome, payload, duration_ms, memory_mb = self.connection.recv()
        except (EOFError, OSError):
            self.kill()
            return "crash", None, 0.0, 0
        return outcome, payload, duration_ms, memory_mb

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # a process in uninterruptible sleep: leave it
            self.process.wait(timeout=5)
        self.connection.close()

    def stop(self) -> None:
        """Retire an idle worker: closing its pipe ends its loop, so it exits cleanly (and flushes its output)."""
        self.connection.close()
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            self.kill()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self.connection.closed


def debugpy_location() -> str | None:
    """The directory debugpy is installed in (requirements-dev.txt), for a worker started with a debug port."""
    found = importlib.util.find_spec("debugpy")
    return str(Path(found.origin).resolve().parents[1]) if found and found.origin else None


def coverage_location() -> str | None:
    """Where coverage is installed, when this process is being measured by it (`make test`)."""
    if not coverage_environment() or "coverage" not in sys.modules:
        return None
    return str(Path(sys.modules["coverage"].__file__ or "").resolve().parents[1])


_output = threading.Lock()


def print_line(line: str) -> None:
    """One write per line, under a lock: request logs and REPORT lines never interleave mid-line."""
    with _output:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Throttled(Exception):
    """Every execution environment the function may have is busy (its ReservedConcurrentExecutions)."""


class FunctionPool:
    """Warm workers for one function. With ReservedConcurrentExecutions set, a request beyond it is throttled, as
    Lambda throttles; otherwise the dev server's own cap (--concurrency) makes extra requests wait their turn."""

    def __init__(
        self,
        function: Function,
        environment: dict[str, str],
        dependencies: Dependencies,
        log: Callable[[str], None] = print_line,
        debug_port: int | None = None,
    ) -> None:
        # Debugged (--debug-port): one worker at most, as one process can listen on the port, and no time limit.
        self.debug_port = debug_port
        if debug_port is not None:
            function = dataclasses.replace(function, concurrency=min(function.concurrency, 1))
        self.function = function
        self.log = log
        self.environment = environment
        self.dependencies = dependencies
        self.idle: list[Worker] = []
        self.count = 0
        self.generation = 0
        self.condition = threading.Condition()
        self.closed = False
        self.spec, self.broken = self._spec()

    def _spec(self) -> tuple[WorkerSpec | None, str | None]:
        if not self.function.code_dir.is_dir():
            return None, f"its CodeUri {self.function.code_dir} is not a directory"
        try:
            path = self.dependencies.python_path(self.function)
        except DependencyError as error:
            return None, str(error)
        spec = WorkerSpec(
            function_name=self.function.logical_id,
            code_dir=str(self.function.code_dir),
            path=tuple(path),
            handler=self.function.handler,
            timeout=self.function.timeout,
            environment=self.environment,
            pycache=str(self.dependencies.pycache),
            debug_port=self.debug_port,
            debugpy=(debugpy_location() or "") if self.debug_port is not None else "",
        )
        return spec, None

    def invoke(self, event_json: str, integration_timeout: float | None = None, trace_id: str = "") -> Invocation:
        """Run the handler once with the event as JSON (as Lambda passes it). `integration_timeout` is API
        Gateway's: past it the caller gets `unavailable` while the function runs on until its own Timeout."""
        request_id = str(uuid.uuid4())
        try:
            worker = self._acquire()
        except Throttled:
            return Invocation("throttled", None, 0.0, 0, None, request_id)
        except DependencyError as error:
            self.log(f"{self.function.logical_id} cannot start: {error}")
            return Invocation("init_error", None, 0.0, 0, None, request_id)
        invocation = self._invoke(worker, event_json, integration_timeout, trace_id, request_id)
        if invocation.outcome != "unavailable":  # that one is reported when the function finishes
            self.report(invocation)
        return invocation

    def _invoke(
        self, worker: Worker, event_json: str, integration_timeout: float | None, trace_id: str, request_id: str
    ) -> Invocation:
        init_ms = None
        keep_worker = False
        try:
            if not worker.ready:
                init = self._receive(worker, INIT_TIMEOUT_SECONDS)
                outcome, payload, init_ms, memory_mb = init or ("timeout", None, INIT_TIMEOUT_SECONDS * 1000.0, 0)
                if outcome != "ready":
                    worker.kill()
                    return Invocation(outcome, payload, 0.0, memory_mb, init_ms, request_id)
                worker.ready = True
            if not worker.send((event_json, request_id, trace_id)):
                return Invocation("crash", None, 0.0, 0, init_ms, request_id)
            timeout = float(self.function.timeout)
            waited = min(timeout, integration_timeout) if integration_timeout else timeout
            answer = self._receive(worker, waited)
            if answer is None and waited < timeout:
                keep_worker = True  # released by the thread below once the function has finished or timed out
                late = (worker, timeout - waited, init_ms, request_id)
                threading.Thread(target=self._finish_late, args=late, daemon=True).start()
                return Invocation("unavailable", None, waited * 1000, 0, init_ms, request_id)
            return self._finished(worker, answer, init_ms, request_id)
        finally:
            if not keep_worker:
                self._release(worker)

    def _receive(self, worker: Worker, seconds: float) -> tuple[str, str | None, float, int] | None:
        """The worker's answer within `seconds`; a debugged worker's whenever it comes, as a debugger may keep it
        paused as long as it likes (sam local lifts the timeouts when debugging too), until the pool is closed."""
        if self.debug_port is None:
            return worker.receive(seconds)
        while not self.closed:
            if (answer := worker.receive(0.25)) is not None:
                return answer
        worker.kill()  # the dev server is stopping (or reloading its template): no debugger keeps it waiting
        return "crash", None, 0.0, 0

    def warm(self) -> Invocation | None:
        """--warm-containers EAGER: start one worker now and wait for its init, so the first request finds it idle
        and warm (no Init Duration). The init's outcome (`ready`, or why not) with its init_ms; None if the pool
        cannot start a worker (a broken spec, already said) or need not (one is idle, or its limit is reached)."""
        with self.condition:
            if self.spec is None or self.idle or self.count >= self.function.concurrency:
                return None
            self.count += 1
            spec, generation = self.spec, self.generation
        try:
            worker = Worker(spec, generation)
        except BaseException:
            with self.condition:
                self.count -= 1
                self.condition.notify()
            raise
        try:
            init = self._receive(worker, INIT_TIMEOUT_SECONDS)
            outcome, payload, init_ms, memory_mb = init or ("timeout", None, INIT_TIMEOUT_SECONDS * 1000.0, 0)
            if outcome == "ready":
                worker.ready = True
            else:
                worker.kill()
            return Invocation(outcome, payload, 0.0, memory_mb, init_ms)
        finally:
            self._release(worker)  # idle if ready and still current; otherwise gone

    def _finished(
        self, worker: Worker, answer: tuple[str, str | None, float, int] | None, init_ms: float | None, request_id: str
    ) -> Invocation:
        if answer is None:
            worker.kill()
            self.log(f"{timestamp()} {request_id} Task timed out after {self.function.timeout:.2f} seconds")
            return Invocation("timeout", None, self.function.timeout * 1000.0, 0, init_ms, request_id)
        outcome, payload, duration_ms, memory_mb = answer
        if outcome == "oom":  # the worker has exited, as Lambda stops an environment over its MemorySize
            worker.kill()
        return Invocation(outcome, payload, duration_ms, memory_mb, init_ms, request_id)

    def _finish_late(self, worker: Worker, remaining: float, init_ms: float | None, request_id: str) -> None:
        self.report(self._finished(worker, worker.receive(remaining), init_ms, request_id))
        self._release(worker)

    def report(self, invocation: Invocation) -> None:
        """Lambda's REPORT line, for every invocation that ran."""
        if invocation.outcome == "throttled":
            return
        init = f"\tInit Duration: {invocation.init_ms:.2f} ms" if invocation.init_ms is not None else ""
        billed = max(1, int(invocation.duration_ms + 0.999))
        self.log(
            f"REPORT RequestId: {invocation.request_id}\tFunction: {self.function.logical_id}\t"
            f"Duration: {invocation.duration_ms:.2f} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {self.function.memory_mb} MB\tMax Memory Used: {invocation.memory_mb} MB{init}"
        )

    def _acquire(self) -> Worker:
        with self.condition:
            if self.spec is None:  # the CodeUri may exist by now; a failed install is not retried (Dependencies)
                self.spec, self.broken = self._spec()
            if self.spec is None:
                raise DependencyError(self.broken or "no worker spec")
            spec = self.spec  # read under the lock, with the generation it belongs to
            while True:
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive:
                        return worker
                    self.count -= 1
                if self.count < self.function.concurrency:
                    self.count += 1
                    break
                if self.function.reserved:
                    raise Throttled
                self.condition.wait()
        try:
            return Worker(spec, self.generation)
        except BaseException:
            with self.condition:
                self.count -= 1
                self.condition.notify()
            raise

    def _release(self, worker: Worker) -> None:
        with self.condition:
            if worker.alive and worker.generation == self.generation:
                self.idle.append(worker)
            else:
                worker.stop()
                self.count -= 1
            self.condition.notify()

    def restart(self) -> None:
        """New code: idle workers go now, busy ones when their request ends; the next request cold-starts. The
        dependency sets are checked first, so an edited requirements.txt is installed before anything restarts."""
        # Bytecode records its source's mtime in whole seconds and its size: an edit within the same second that
        # keeps the size ("v1" -> "v2") would run the old code. The function's own bytecode is cheap to redo.
        for source in (self.function.code_dir, *self.function.layer_dirs):
            shutil.rmtree(self.dependencies.pycache / source.resolve().relative_to("/"), ignore_errors=True)
        self.close(self._spec())

    def close(self, new_spec: tuple[WorkerSpec | None, str | None] | None = None) -> None:
        with self.condition:
            if new_spec is not None:
                self.spec, self.broken = new_spec
            else:
                self.closed = True  # for good: a debugged worker's request stops waiting (see _receive)
            self.generation += 1
            stale, self.idle = self.idle, []
            self.count -= len(stale)
            self.condition.notify_all()
        for worker in stale:
            worker.stop()

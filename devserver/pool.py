"""Warm workers per function, as Lambda keeps execution environments: cold start once, one request each."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
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

    async def receive_async(self, timeout: float) -> tuple[str, str | None, float, int] | None:
        """`receive` on the event loop: waits for the pipe to be readable (an answer, or EOF if it died)."""
        loop = asyncio.get_running_loop()
        readable = loop.create_future()
        try:
            descriptor = self.connection.fileno()
        except OSError:  # closed: killed meanwhile
            return "crash", None, 0.0, 0
        loop.add_reader(descriptor, _resolve, readable, True)
        timer = loop.call_later(timeout, _resolve, readable, False)
        try:
            answered = await readable
        finally:
            loop.remove_reader(descriptor)
            timer.cancel()
        return self.receive(0) if answered else None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # a process in uninterruptible sleep: leave it
            self.process.wait(timeout=5)
        self.connection.close()

    def stop(self) -> None:
        """Retire an idle worker: closing its pipe ends its loop, so it exits cleanly (and flushes its output)."""
        stop_workers([self])

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self.connection.closed


def stop_workers(workers: list[Worker], timeout: float = 1) -> None:
    """Retire idle workers together: every pipe is closed first, so they exit side by side and the wait is the
    slowest one's, not the sum of theirs. One still running after `timeout` is killed."""
    for worker in workers:
        worker.connection.close()
    deadline = time.monotonic() + timeout
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()


def debugpy_location() -> str | None:
    """The directory debugpy is installed in (requirements-dev.txt), for a worker started with a debug port."""
    found = importlib.util.find_spec("debugpy")
    return str(Path(found.origin).resolve().parents[1]) if found and found.origin else None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


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
        self.waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()  # invoke_async's
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
        init_ms, keep_worker = None, False
        try:
            if not worker.ready:
                init_ms, failed = self._initialized(worker, self._receive(worker, INIT_TIMEOUT_SECONDS), request_id)
                if failed:
                    return failed
            if not worker.send((event_json, request_id, trace_id)):
                return Invocation("crash", None, 0.0, 0, init_ms, request_id)
            waited = self._wait_seconds(integration_timeout)
            invocation, keep_worker = self._answered(worker, self._receive(worker, waited), waited, init_ms, request_id)
            return invocation
        finally:
            if not keep_worker:
                self._release(worker)

    async def invoke_async(
        self, event_json: str, integration_timeout: float | None = None, trace_id: str = ""
    ) -> Invocation:
        """`invoke` for the gateway's event loop: it waits for the worker's answer (and for a free worker) without
        a thread of its own, which is most of what a request costs the dev server."""
        request_id = str(uuid.uuid4())
        try:
            worker = await self._acquire_async()
        except Throttled:
            return Invocation("throttled", None, 0.0, 0, None, request_id)
        except DependencyError as error:
            self.log(f"{self.function.logical_id} cannot start: {error}")
            return Invocation("init_error", None, 0.0, 0, None, request_id)
        init_ms, invocation, keep_worker = None, None, False
        try:
            if not worker.ready:
                init = await self._receive_async(worker, INIT_TIMEOUT_SECONDS)
                init_ms, invocation = self._initialized(worker, init, request_id)
            if invocation is not None:
                pass  # the init failed
            elif not worker.send((event_json, request_id, trace_id)):
                invocation = Invocation("crash", None, 0.0, 0, init_ms, request_id)
            else:
                waited = self._wait_seconds(integration_timeout)
                answer = await self._receive_async(worker, waited)
                invocation, keep_worker = self._answered(worker, answer, waited, init_ms, request_id)
        except asyncio.CancelledError:  # the dev server is stopping: a worker mid-request must not go back idle
            worker.kill()
            raise
        finally:
            if not keep_worker:
                self._release(worker)
        if invocation.outcome != "unavailable":  # that one is reported when the function finishes
            self.report(invocation)
        return invocation

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

    async def _receive_async(self, worker: Worker, seconds: float) -> tuple[str, str | None, float, int] | None:
        """`_receive` on the event loop."""
        if self.debug_port is None:
            return await worker.receive_async(seconds)
        while not self.closed:
            if (answer := await worker.receive_async(0.25)) is not None:
                return answer
        worker.kill()
        return "crash", None, 0.0, 0

    def warm(self) -> Invocation | None:
        """--warm-containers EAGER: start one worker now and wait for its init, so the first request finds it idle
        and warm (no Init Duration). The init's outcome (`ready`, or why not) with its init_ms; None if the pool
        cannot start a worker (a broken spec, already said) or need not (one is idle, or its limit is reached)."""
        with self.condition:
            if self.spec is None or self.idle or self.count >= self.function.concurrency:
                return None
            self.count += 1
            spec = self.spec
        worker = self._start(spec)
        try:
            init = self._receive(worker, INIT_TIMEOUT_SECONDS)
            init_ms, failed = self._initialized(worker, init, "")
            return failed or Invocation("ready", None, 0.0, 0, init_ms)
        finally:
            self._release(worker)  # idle if ready and still current; otherwise gone

    def _initialized(
        self, worker: Worker, init: tuple[str, str | None, float, int] | None, request_id: str
    ) -> tuple[float | None, Invocation | None]:
        """The worker's init report: its duration, and the failed invocation if the init failed."""
        outcome, payload, init_ms, memory_mb = init or ("timeout", None, INIT_TIMEOUT_SECONDS * 1000.0, 0)
        if outcome != "ready":
            worker.kill()
            return init_ms, Invocation(outcome, payload, 0.0, memory_mb, init_ms, request_id)
        worker.ready = True
        return init_ms, None

    def _wait_seconds(self, integration_timeout: float | None) -> float:
        """How long the caller waits: the function's Timeout, or API Gateway's integration timeout if shorter."""
        timeout = float(self.function.timeout)
        return min(timeout, integration_timeout) if integration_timeout else timeout

    def _answered(
        self,
        worker: Worker,
        answer: tuple[str, str | None, float, int] | None,
        waited: float,
        init_ms: float | None,
        request_id: str,
    ) -> tuple[Invocation, bool]:
        """The invocation, and whether the worker is still busy (a thread releases it when the function ends)."""
        timeout = float(self.function.timeout)
        if answer is None and waited < timeout:
            late = (worker, timeout - waited, init_ms, request_id)
            threading.Thread(target=self._finish_late, args=late, daemon=True).start()
            return Invocation("unavailable", None, waited * 1000, 0, init_ms, request_id), True
        return self._finished(worker, answer, init_ms, request_id), False

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
            while True:
                taken = self._take()
                if taken is not None:
                    break
                self.condition.wait()
        return taken if isinstance(taken, Worker) else self._start(taken)

    async def _acquire_async(self) -> Worker:
        """`_acquire` on the event loop: a request over the cap waits on a future that `_release` resolves."""
        loop = asyncio.get_running_loop()
        while True:
            with self.condition:
                taken = self._take()
                if taken is None:
                    turn: asyncio.Future[None] = loop.create_future()
                    self.waiters.append((loop, turn))
            if taken is None:
                try:
                    await turn
                except asyncio.CancelledError:
                    with self.condition:
                        if turn.done() and not turn.cancelled():  # woken, then cancelled: pass the turn on
                            self._notify()
                    raise
                continue
            # A new process is forked off the loop: the other requests go on meanwhile.
            return taken if isinstance(taken, Worker) else await asyncio.to_thread(self._start, taken)

    def _take(self) -> Worker | WorkerSpec | None:
        """Under the lock: an idle worker, or the spec to start one with (a slot is counted for it), or None when
        the function is at its concurrency (raises Throttled if that is its ReservedConcurrentExecutions)."""
        if self.spec is None:  # the CodeUri may exist by now; a failed install is not retried (Dependencies)
            self.spec, self.broken = self._spec()
        if self.spec is None:
            raise DependencyError(self.broken or "no worker spec")
        while self.idle:
            worker = self.idle.pop()
            if worker.alive:
                return worker
            self.count -= 1
        if self.count < self.function.concurrency:
            self.count += 1
            return self.spec
        if self.function.reserved:
            raise Throttled
        return None

    def _start(self, spec: WorkerSpec) -> Worker:
        try:
            return Worker(spec, self.generation)
        except BaseException:
            with self.condition:
                self.count -= 1
                self._notify()
            raise

    def _release(self, worker: Worker) -> None:
        with self.condition:
            if worker.alive and worker.generation == self.generation:
                self.idle.append(worker)
            else:
                worker.stop()
                self.count -= 1
            self._notify()

    def _notify(self, everyone: bool = False) -> None:
        """Under the lock: wake a thread and a request waiting for a worker (all of them, with `everyone`)."""
        self.condition.notify_all() if everyone else self.condition.notify()
        while self.waiters:
            loop, turn = self.waiters.popleft()
            if turn.done():  # its request was cancelled
                continue
            if _running_loop() is loop:
                turn.set_result(None)
            else:  # a thread's release (a late answer, a sync invoke): the loop must be woken
                loop.call_soon_threadsafe(_resolve, turn, None)
            if not everyone:
                break

    def restart(self) -> None:
        """New code: idle workers go now, busy ones when their request ends; the next request cold-starts. The
        dependency sets are checked first, so an edited requirements.txt is installed before anything restarts."""
        # Bytecode records its source's mtime in whole seconds and its size: an edit within the same second that
        # keeps the size ("v1" -> "v2") would run the old code. The function's own bytecode is cheap to redo.
        for source in (self.function.code_dir, *self.function.layer_dirs):
            shutil.rmtree(self.dependencies.pycache / source.resolve().relative_to("/"), ignore_errors=True)
        self.close(self._spec())

    def close(self, new_spec: tuple[WorkerSpec | None, str | None] | None = None) -> None:
        stop_workers(self.retire(new_spec))

    def retire(self, new_spec: tuple[WorkerSpec | None, str | None] | None = None) -> list[Worker]:
        """`close` without the wait: the idle workers, for the caller to stop (with other pools' at once)."""
        with self.condition:
            if new_spec is not None:
                self.spec, self.broken = new_spec
            else:
                self.closed = True  # for good: a debugged worker's request stops waiting (see _receive)
            self.generation += 1
            stale, self.idle = self.idle, []
            self.count -= len(stale)
            self._notify(everyone=True)
        return stale

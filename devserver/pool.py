"""Warm workers per function, as Lambda keeps execution environments: cold start once, one request each."""

from __future__ import annotations

import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from devserver.template import Function
from devserver.worker import WorkerSpec, serve

INIT_TIMEOUT_SECONDS = 10  # Lambda's limit on the init phase
_spawn = multiprocessing.get_context("spawn")  # a clean interpreter per worker, like a new execution environment


@dataclass(frozen=True)
class Invocation:
    outcome: str  # ok | error (handler raised) | timeout | crash | init_error
    payload: str | None  # the handler's JSON result
    duration_ms: float
    memory_mb: int
    init_ms: float | None  # set on a cold start


class Worker:
    def __init__(self, spec: WorkerSpec, generation: int) -> None:
        self.generation = generation
        self.connection: Connection
        self.connection, child = _spawn.Pipe()
        self.process = _spawn.Process(
            target=serve, args=(child, spec), name=f"lambda:{spec.function_name}", daemon=True
        )
        self.process.start()
        child.close()
        self.ready = False

    def call(self, message: Any, timeout: float) -> tuple[str, str | None, float, int]:
        """Send (unless None) and wait for the answer; a dead or silent worker is reported, never waited on."""
        try:
            if message is not None:
                self.connection.send(message)
            if not self.connection.poll(timeout):
                self.kill()
                return "timeout", None, timeout * 1000, 0
            outcome, payload, duration_ms, memory_mb = self.connection.recv()
        except (EOFError, OSError):
            self.kill()
            return "crash", None, 0.0, 0
        return outcome, payload, duration_ms, memory_mb

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.connection.close()

    def stop(self) -> None:
        """Retire an idle worker: closing its pipe ends its loop, so it exits cleanly (and flushes its output)."""
        self.connection.close()
        self.process.join(timeout=1)
        self.kill()

    @property
    def alive(self) -> bool:
        return self.process.is_alive() and not self.connection.closed


class FunctionPool:
    """Up to `function.concurrency` workers for one function; more requests than that wait their turn."""

    def __init__(self, function: Function, environment: dict[str, str]) -> None:
        self.function = function
        self.spec = WorkerSpec(
            function_name=function.logical_id,
            code_dir=str(function.code_dir),
            layer_dirs=tuple(str(path) for path in function.layer_dirs),
            handler=function.handler,
            memory_mb=function.memory_mb,
            timeout=function.timeout,
            environment={**environment, **function.environment},
        )
        self.idle: list[Worker] = []
        self.count = 0
        self.generation = 0
        self.condition = threading.Condition()

    def invoke(self, event: dict[str, Any]) -> Invocation:
        worker = self._acquire()
        init_ms = None
        try:
            if not worker.ready:
                outcome, _, init_ms, memory_mb = worker.call(None, INIT_TIMEOUT_SECONDS)
                if outcome != "ready":
                    worker.kill()
                    return Invocation(
                        "init_error" if outcome == "init_error" else outcome, None, 0.0, memory_mb, init_ms
                    )
                worker.ready = True
            outcome, payload, duration_ms, memory_mb = worker.call(event, self.function.timeout)
            return Invocation(outcome, payload, duration_ms, memory_mb, init_ms)
        finally:
            self._release(worker)

    def _acquire(self) -> Worker:
        with self.condition:
            while True:
                while self.idle:
                    worker = self.idle.pop()
                    if worker.alive:
                        return worker
                    self.count -= 1
                if self.count < self.function.concurrency:
                    self.count += 1
                    break
                self.condition.wait()
        try:
            return Worker(self.spec, self.generation)
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
        """New code: idle workers go now, busy ones when their request ends; the next request cold-starts."""
        with self.condition:
            self.generation += 1
            stale, self.idle = self.idle, []
            self.count -= len(stale)
            self.condition.notify_all()
        for worker in stale:
            worker.stop()

    def close(self) -> None:
        self.restart()

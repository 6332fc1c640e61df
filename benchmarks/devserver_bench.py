"""Dev server benchmarks: latency added over an in-process call, throughput, and hot-reload time."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devserver.process import DevServerProcess
from devserver.worker import LambdaContext, load_module

ROOT = Path(__file__).resolve().parents[1]
# Counted, as in production, but never reached by the thousands of requests from one address measured here.
HIGH_RATE_LIMIT = "1000000/minute"


@contextmanager
def running(template: Path, *args: str) -> Iterator[DevServerProcess]:
    with tempfile.TemporaryDirectory() as scratch:
        server = DevServerProcess(template, Path(scratch) / "devserver.log", *args)
        try:
            yield server
        finally:
            server.stop()


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def _timed(call: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _in_process_handler(function: str, aws_endpoint: str) -> Any:
    """The same handler, imported here and pointed at the dev server's moto: the floor the dev server adds to."""
    from devserver.runtime import lambda_environment
    from devserver.template import load_app

    app = load_app(ROOT / "template.yaml")
    spec_function = next(f for f in app.functions.values() if f.code_dir.name == function)
    environment = lambda_environment(spec_function, app.region, aws_endpoint)
    os.environ.update({**environment, "LOG_LEVEL": "WARNING", "RATE_LIMIT": HIGH_RATE_LIMIT})
    sys.path[:0] = [str(path) for path in spec_function.layer_dirs]
    return load_module(spec_function.code_dir / "app.py", f"inproc_{function}").lambda_handler


def _client_load(port: int, path: str, threads: int, per_thread: int) -> int:
    """A load generator as light as ab or wrk: raw sockets, one prebuilt request, read to EOF."""
    import socket

    payload = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
    ok = 0
    lock = threading.Lock()

    def run() -> None:
        nonlocal ok
        for _ in range(per_thread):
            with socket.create_connection(("127.0.0.1", port)) as connection:
                connection.sendall(payload)
                chunks = []
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
            if b"".join(chunks).startswith(b"HTTP/1.1 200"):
                with lock:
                    ok += 1

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ok


def latency_and_throughput(count: int, clients: int) -> dict[str, Any]:
    overrides = f"LogLevel=WARNING RateLimit={HIGH_RATE_LIMIT}"
    with running(ROOT / "template.yaml", "--no-reload", "--parameter-overrides", overrides) as server:
        bearer = subprocess.run(
            [sys.executable, "-m", "devserver", "token", "bench"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        status, body = request(
            server.port,
            "POST",
            "/api/posts",
            json.dumps({"title": "Bench", "content": "x" * 500}).encode(),
            {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"},
        )
        assert status == 201, body
        post_id = json.loads(body)["id"]
        results: dict[str, Any] = {"routes": []}
        for label, path, function, sample in [
            ("GET /api/health", "/api/health", "health", "health/get.json"),
            ("GET /api/posts/{id}", f"/api/posts/{post_id}", "posts_get", "posts_get/get.json"),
        ]:
            for _ in range(20):  # warm the worker
                request(server.port, "GET", path)
            through_server = _timed(lambda path=path: request(server.port, "GET", path), count)
            handler = _in_process_handler(function, server.aws_endpoint)
            event = json.loads((ROOT / "events" / sample).read_text())
            event["rawPath"] = event["requestContext"]["http"]["path"] = path
            event["headers"].pop("if-none-match", None)
            if "pathParameters" in event:
                event["pathParameters"]["id"] = post_id
            for _ in range(20):
                handler(event, LambdaContext("bench", 512, 10))
            in_process = _timed(
                lambda handler=handler, event=event: handler(event, LambdaContext("bench", 512, 10)), count
            )
            server_p50, server_p95 = percentiles(through_server)
            local_p50, local_p95 = percentiles(in_process)
            results["routes"].append(
                {
                    "route": label,
                    "server_p50": server_p50,
                    "server_p95": server_p95,
                    "inprocess_p50": local_p50,
                    "inprocess_p95": local_p95,
                    "added_p50": server_p50 - local_p50,
                }
            )
        per_process = max(1, clients // 2)
        total_each = 1000
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=2) as pool:
            done = sum(
                pool.map(
                    _client_load,
                    [server.port] * 2,
                    ["/api/health"] * 2,
                    [per_process] * 2,
                    [total_each // per_process] * 2,
                )
            )
        elapsed = time.perf_counter() - started
        results["throughput"] = {
            "clients": per_process * 2,
            "requests": done,
            "seconds": elapsed,
            "rps": done / elapsed,
        }
        return results


def reload_time(repeats: int) -> dict[str, float]:
    """From saving an edited function to the first response that runs the new code."""
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(ROOT / "tests" / "integration" / "project", project)
        with running(project / "template.yaml") as server:
            source = project / "functions" / "hello" / "app.py"
            samples = []
            for version in range(2, 2 + repeats):
                assert request(server.port, "GET", "/hello")[1] == f"v{version - 1}".encode()
                time.sleep(0.3)
                started = time.perf_counter()
                source.write_text(source.read_text().replace(f'"v{version - 1}"', f'"v{version}"'))
                while request(server.port, "GET", "/hello")[1] != f"v{version}".encode():
                    time.sleep(0.01)
                samples.append((time.perf_counter() - started) * 1000)
            return {"median_ms": statistics.median(samples), "max_ms": max(samples)}


if __name__ == "__main__":
    section, *numbers = sys.argv[1:]
    values = [int(number) for number in numbers]
    print(json.dumps(latency_and_throughput(*values) if section == "serve" else reload_time(*values)))

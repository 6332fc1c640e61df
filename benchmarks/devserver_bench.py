"""Dev server benchmarks: latency added over an in-process call, throughput, and hot-reload time."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
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
    # As the dev server runs it (RateLimit=HIGH_RATE_LIMIT): counted with the high limit, unless the function's own
    # RATE_LIMIT is "off" (health), which that override does not change either.
    limit = HIGH_RATE_LIMIT if environment.get("RATE_LIMIT") != "off" else "off"
    os.environ.update({**environment, "LOG_LEVEL": "WARNING", "RATE_LIMIT": limit})
    sys.path[:0] = [str(path) for path in spec_function.layer_dirs]
    return load_module(spec_function.code_dir / "app.py", f"inproc_{function}").lambda_handler


def _client_load(port: int, path: str, threads: int, per_thread: int, keep_alive: bool) -> int:
    """A load generator as light as ab or wrk: raw sockets, one prebuilt request. With keep-alive, each client
    sends its requests one after another on one connection; without, each request opens a connection and reads to
    EOF. Returns how many 200s came back."""
    import socket

    close = "" if keep_alive else "Connection: close\r\n"
    payload = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{close}\r\n".encode()
    ok = 0
    lock = threading.Lock()

    def reused() -> int:
        """As a keep-alive client does: the connection is reused until the server says `Connection: close`."""
        answered, connection, buffer = 0, None, b""
        for _ in range(per_thread):
            if connection is None:
                connection = socket.create_connection(("127.0.0.1", port))
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.sendall(payload)
            while (end := buffer.find(b"\r\n\r\n")) < 0 or len(buffer) < end + 4 + _length(buffer[:end]):
                chunk = connection.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection mid-response")
                buffer += chunk
            head = buffer[:end]
            answered += head.startswith(b"HTTP/1.1 200")
            buffer = buffer[end + 4 + _length(head) :]
            if re.search(rb"(?im)^connection:\s*close", head):
                connection.close()
                connection, buffer = None, b""
        if connection is not None:
            connection.close()
        return answered

    def fresh() -> int:
        answered = 0
        for _ in range(per_thread):
            with socket.socket() as connection:  # not create_connection: no name lookup per request, as ab or wrk
                connection.connect(("127.0.0.1", port))
                connection.sendall(payload)
                first = connection.recv(65536)
                while connection.recv(65536):
                    pass
            answered += first.startswith(b"HTTP/1.1 200")
        return answered

    def run() -> None:
        nonlocal ok
        answered = reused() if keep_alive else fresh()
        with lock:
            ok += answered

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return ok


def _length(head: bytes) -> int:
    found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return int(found.group(1)) if found else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, all its threads (not its children: the workers, moto)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(port: int, pid: int, keep_alive: bool, clients: int, total: int) -> dict[str, float]:
    """GET /api/health from `clients` concurrent clients in 2 processes: req/s, and the dev server's own CPU
    per request (the gateway process; the function's worker is Lambda's share, measured in section 2)."""
    per_process = max(1, clients // 2)
    cpu_before, started = cpu_seconds(pid), time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        done = sum(
            pool.map(
                _client_load,
                [port] * 2,
                ["/api/health"] * 2,
                [per_process] * 2,
                [total // (per_process * 2)] * 2,
                [keep_alive] * 2,
            )
        )
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
    return {"requests": done, "rps": done / elapsed, "cpu_ms": cpu * 1000 / max(done, 1)}


def sequential_p50(port: int, path: str, count: int) -> dict[str, float]:
    """One client, one request at a time: p50 latency on a reused connection and on a new one per request."""
    reused = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def again() -> None:
        reused.request("GET", path)
        reused.getresponse().read()

    for _ in range(20):
        again()
    kept = percentiles(_timed(again, count))[0]
    reused.close()
    fresh = percentiles(_timed(lambda: request(port, "GET", path), count))[0]
    return {"keep_alive_p50": kept, "new_connection_p50": fresh}


@contextmanager
def baseline_server(revision: str, args: tuple[str, ...]) -> Iterator[tuple[int, int] | None]:
    """The dev server as it was at `revision` (Werkzeug's threaded WSGI server), run from an extracted copy of its
    devserver/ package with that revision's template, functions and layer: its figures, measured in the same run
    as today's. None when the revision is not in this clone (a shallow one)."""
    with tempfile.TemporaryDirectory() as scratch:
        git = shutil.which("git") or "/usr/bin/git"
        # Its own template, functions and layer too: today's template uses what it never read (Fn::ForEach, a
        # table's conditional index), and GET /api/health is served the same way by both.
        archive = subprocess.run(
            [git, "archive", revision, "devserver", "template.yaml", "functions", "layers"],
            cwd=ROOT,
            capture_output=True,
        )
        if archive.returncode != 0:
            yield None
            return
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as files:
            files.extractall(scratch, filter="data")
        from devserver.aws import free_port

        port = free_port()
        log = Path(scratch) / "devserver.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "devserver", "--template", str(Path(scratch) / "template.yaml")),
                    *("--port", str(port), "--cache-dir", str(ROOT / ".devserver-cache"), *args),
                ],
                cwd=scratch,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + 300
                while "Running on" not in log.read_text():
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the baseline dev server did not start:\n{log.read_text()}")
                    time.sleep(0.05)
                yield port, process.pid
            finally:
                os.killpg(process.pid, signal.SIGINT)
                process.wait(timeout=30)


def latency_and_throughput(count: int, clients: int, total: int) -> dict[str, Any]:
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
        results["throughput"] = load_figures(server.port, server.process.pid, clients, total)
        return results


def load_figures(port: int, pid: int, clients: int, total: int) -> dict[str, Any]:
    for _ in range(3):  # the function's concurrency: every worker warm before the clock starts
        throughput(port, pid, True, clients, clients * 10)
    return {
        "clients": clients,
        "keep_alive": throughput(port, pid, True, clients, total),
        "new_connection": throughput(port, pid, False, clients, total),
        **sequential_p50(port, "/api/health", 300),
    }


def baseline(revision: str, clients: int, total: int) -> dict[str, Any]:
    """The same load against the dev server at `revision`."""
    overrides = f"LogLevel=WARNING RateLimit={HIGH_RATE_LIMIT}"
    with baseline_server(revision, ("--no-reload", "--parameter-overrides", overrides)) as started:
        if started is None:
            return {"revision": revision, "missing": True}
        return {"revision": revision, **load_figures(*started, clients, total)}


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
    if section == "baseline":
        print(json.dumps(baseline(numbers[0], *map(int, numbers[1:]))))
    else:
        values = [int(number) for number in numbers]
        print(json.dumps(latency_and_throughput(*values) if section == "serve" else reload_time(*values)))

"""`sam local start-api`'s --warm-containers EAGER and --debug-port, on the small test project."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devserver import pool as pool_module
from devserver.aws import free_port
from devserver.pool import FunctionPool
from devserver.runtime import Dependencies, lambda_environment
from devserver.template import load_app


def wait_for(server, condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.05)


def report_lines(server, function: str) -> list[str]:
    return [line for line in server.output().splitlines() if line.startswith("REPORT") and f"\t{function}\t" in line]


def test_eager_warms_every_function_before_serving_so_the_first_request_is_warm(project, start_server):
    server = start_server(project / "template.yaml", "--warm-containers", "eager")  # any case, as sam takes it
    boot = server.output().split("Running on")[0]

    warmed = re.findall(r"^Warmed (\w+) in \d+ ms$", boot, re.MULTILINE)
    assert sorted(warmed) == sorted(set(load_app(project / "template.yaml").functions) - {"UndeclaredFunction"})
    assert (  # its init fails: said plainly, and the server runs on
        "error: UndeclaredFunction failed to warm: Runtime.ImportModuleError: Unable to import module 'app': "
        "No module named 'requests'" in boot
    )
    assert server.get("/hello").text == "v1"
    assert server.get("/undeclared").status_code == 500
    [first] = report_lines(server, "Function: HelloFunction")
    assert "Init Duration" not in first

    # After a code reload the function is warmed again, as sam's EAGER containers are.
    source = project / "functions" / "hello" / "app.py"
    source.write_text(source.read_text().replace('"v1"', '"v2"'))
    wait_for(server, lambda: len(re.findall(r"^Warmed HelloFunction in", server.output(), re.MULTILINE)) == 2)
    assert server.get("/hello").text == "v2"
    assert "Init Duration" not in report_lines(server, "Function: HelloFunction")[-1]


def send(connection: socket.socket, seq: int, command: str, arguments: dict[str, Any]) -> None:
    body = json.dumps({"seq": seq, "type": "request", "command": command, "arguments": arguments}).encode()
    connection.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


def messages(connection: socket.socket) -> Iterator[dict[str, Any]]:
    """The Debug Adapter Protocol's framing: a Content-Length header, a blank line, then that many bytes of JSON."""
    buffer = b""

    def more() -> bytes:
        chunk = connection.recv(65536)
        assert chunk, "the debuggee closed the connection"
        return chunk

    while True:
        while b"\r\n\r\n" not in buffer:
            buffer += more()
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        length = int(head.split(b":")[1])
        while len(buffer) < length:
            buffer += more()
        yield json.loads(buffer[:length])
        buffer = buffer[length:]


def attach(port: int, stop_at: tuple[Path, int] | None = None, while_stopped: Callable[[], object] = list) -> None:
    """What VS Code's "attach" sends: initialize, attach, then (after the editor's breakpoints) configurationDone
    once the debuggee says it is `initialized`; debugpy's wait_for_client() returns when that is done. With
    `stop_at` (file, line), waits for the debuggee to stop at that breakpoint, calls `while_stopped`, continues."""
    deadline = time.monotonic() + 10
    while True:  # the worker listens only once it has started
        try:
            connection = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, f"nothing listens on {port}"
            time.sleep(0.05)
    with connection:
        send(connection, 1, "initialize", {"clientID": "pytest", "adapterID": "debugpy"})
        send(connection, 2, "attach", {"name": "pytest"})
        for message in messages(connection):
            if message.get("event") == "initialized":
                if stop_at:
                    breakpoints = {"source": {"path": str(stop_at[0])}, "breakpoints": [{"line": stop_at[1]}]}
                    send(connection, 3, "setBreakpoints", breakpoints)
                send(connection, 4, "configurationDone", {})
            if message.get("command") == "configurationDone":
                assert message["success"], message
                if not stop_at:
                    return
            if message.get("event") == "stopped":
                assert message["body"]["reason"] == "breakpoint", message
                while_stopped()
                send(connection, 5, "continue", {"threadId": message["body"]["threadId"]})
                return


def test_debug_port_waits_for_a_debugger_before_the_import_and_stops_at_a_module_level_breakpoint(
    project, start_server
):
    port = free_port()
    server = start_server(project / "template.yaml", "--debug-port", str(port), "--debug-function", "hello")
    debugging = (
        f"Debugging HelloFunction: its worker (one at most, no timeouts) waits for a debugger on 127.0.0.1:{port}"
    )
    assert debugging in server.output()

    with ThreadPoolExecutor(max_workers=1) as executor:
        answer = executor.submit(server.get, "/hello")
        waiting = f"HelloFunction is waiting for a debugger to attach on 127.0.0.1:{port}"
        wait_for(server, lambda: waiting in server.output())
        time.sleep(0.1)
        assert not answer.done()
        stopped: list[bool] = []
        # Line 1, `MESSAGE = "v1"`: run as the module is imported, so only after the debugger is attached.
        attach(port, (project.resolve() / "functions" / "hello" / "app.py", 1), lambda: stopped.append(answer.done()))
        assert answer.result(timeout=10).text == "v1"
    assert stopped == [False]  # the request waited at the breakpoint
    assert server.get("/hello").text == "v1"  # the same worker answers on, its debugger gone


def test_a_debugged_worker_has_no_init_limit_no_timeout_and_no_integration_timeout(project, monkeypatch):
    monkeypatch.setattr(pool_module, "INIT_TIMEOUT_SECONDS", 0.1)
    app = load_app(project / "template.yaml")
    # Waiting for the debugger takes longer than this init limit, and the handler sleeps past this Timeout and past
    # the integration timeout below: without a debugger, the first would kill the worker, and so would the second.
    function = dataclasses.replace(app.functions["ThrottledFunction"], timeout=0.2)
    port, lines = free_port(), []
    environment = lambda_environment(function, app.region, "http://127.0.0.1:9")
    pool = FunctionPool(function, environment, Dependencies(), lines.append, debug_port=port)
    try:
        with ThreadPoolExecutor(max_workers=1) as executor:
            started = time.monotonic()
            # 0.1 s: API Gateway's integration timeout, past which the caller would get a 503.
            answer = executor.submit(pool.invoke, json.dumps({"queryStringParameters": {"sleep": "0.4"}}), 0.1)
            time.sleep(0.3)
            attach(port)
            invocation = answer.result(timeout=10)
    finally:
        pool.close()

    assert time.monotonic() - started > 0.7
    assert (invocation.outcome, json.loads(invocation.payload or "{}").get("body")) == ("ok", "done"), lines
    echo = FunctionPool(app.functions["EchoFunction"], environment, Dependencies(), debug_port=port)
    assert echo.function.concurrency == 1  # one worker at most: one process at a time can listen on the port

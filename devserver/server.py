"""The HTTP half of the dev server: Werkzeug's threaded WSGI server, made to survive slow and idle clients.

API Gateway never lets one client hold the service: here every read waits at most CLIENT_TIMEOUT_SECONDS, the
request line and headers must arrive within HEAD_DEADLINE_SECONDS and the body within BODY_DEADLINE_SECONDS however
slowly they trickle in (a slowloris sending a byte every few seconds), and threads are many and started only when
needed. Errors in the request itself are API Gateway's JSON, not http.server's HTML.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from devserver.gateway import request_id

CLIENT_TIMEOUT_SECONDS = 5  # a connection silent this long is closed
HEAD_DEADLINE_SECONDS = 10  # the request line and headers, in full, within this
BODY_DEADLINE_SECONDS = 30  # then the body, in full, within this (10 MB at most, from a local client)


class QuietNoDelayHandler(WSGIRequestHandler):
    """TCP_NODELAY, or requests stall ~40 ms on Nagle vs delayed ACK; the gateway logs each request itself."""

    timeout = CLIENT_TIMEOUT_SECONDS
    server: PooledWSGIServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.deadlines.watch(self.connection, HEAD_DEADLINE_SECONDS)

    def parse_request(self) -> bool:
        parsed = super().parse_request()  # reads the headers
        self.server.deadlines.watch(self.connection, BODY_DEADLINE_SECONDS)
        return parsed

    def make_environ(self) -> Any:
        environ = super().make_environ()
        # The gateway calls this once it has read the body: a slow function must not be cut off.
        environ["devserver.request_read"] = lambda: self.server.deadlines.done(self.connection)
        return environ

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request too malformed to route (bad request line, headers too long): API Gateway's JSON."""
        self.request_version = "HTTP/1.1"  # a garbled request line leaves HTTP/0.9, which has no status line
        self.close_connection = True
        body = json.dumps({"message": HTTPStatus(code).phrase}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Apigw-Requestid", request_id())
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def finish(self) -> None:
        self.server.deadlines.done(self.connection)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass  # "Request timed out" for every idle connection is noise, not news


class Deadlines:
    """Connections still sending their request, and when they must be done; a reaper thread shuts down the late
    ones, which wakes their handler's blocked read."""

    def __init__(self) -> None:
        self.deadlines: dict[socket.socket, float] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        threading.Thread(target=self._reap, name="request-deadlines", daemon=True).start()

    def watch(self, connection: socket.socket, seconds: float) -> None:
        with self.lock:
            self.deadlines[connection] = time.monotonic() + seconds

    def done(self, connection: socket.socket) -> None:
        with self.lock:
            self.deadlines.pop(connection, None)

    def _reap(self) -> None:
        while not self.stopped.wait(0.5):
            now = time.monotonic()
            with self.lock:
                late = [connection for connection, deadline in self.deadlines.items() if deadline < now]
                for connection in late:
                    del self.deadlines[connection]
            for connection in late:
                with contextlib.suppress(OSError):  # already closed by its handler
                    connection.shutdown(socket.SHUT_RDWR)


class PooledWSGIServer(ThreadedWSGIServer):
    """Werkzeug's threaded server with a pool instead of a new thread per connection (~12% of its CPU). A thread
    serves one connection at a time, so there are enough for many slow clients: threads start only when needed."""

    def __init__(self, host: str, port: int, app: Any, threads: int = 1024) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        self.deadlines = Deadlines()
        super().__init__(host, port, app, handler=QuietNoDelayHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.executor.submit(self.process_request_thread, request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self.deadlines.stopped.set()
        self.executor.shutdown(wait=False, cancel_futures=True)

"""What every fake third-party API here shares: a real HTTP server on 127.0.0.1 (an ephemeral port) in a thread,
started and stopped by the test, usable as a context manager."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 without Nagle's delay, quiet; reads the body and hands it to `respond`."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the clients' connection pools expect
    disable_nagle_algorithm = True  # else keep-alive stalls ~40 ms per request (Nagle vs delayed ACK)

    def do_GET(self) -> None:
        self._read_and_respond()

    def do_POST(self) -> None:
        self._read_and_respond()

    def do_DELETE(self) -> None:
        self._read_and_respond()

    def _read_and_respond(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.respond(body, {name.lower(): value for name, value in self.headers.items()})

    def respond(self, body: bytes, headers: dict[str, str]) -> None:
        raise NotImplementedError

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what the fake received, not an access log."""


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # set by stop(): a programmed delay ends at once
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True  # a delayed answer never holds up stop()
        self._server.fake = self  # type: ignore[attr-defined]  # how the handler finds us
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

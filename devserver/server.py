"""The HTTP half of the dev server: an asyncio server on httptools (llhttp, Node.js's HTTP parser), with HTTP/1.1
keep-alive, made to survive slow and idle clients.

Parsing is a maintained library's job, not ours; the rest of a request's cost is kept low on purpose (one write per
response, no thread per request, no per-request timers), so that the dev server is never what a load test measures.

API Gateway never lets one client hold the service: a connection silent for CLIENT_TIMEOUT_SECONDS is closed, the
request line and headers must arrive within HEAD_DEADLINE_SECONDS and the body within BODY_DEADLINE_SECONDS
however slowly they trickle in (a slowloris sending a byte every few seconds). Errors in the request itself are
API Gateway's JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httptools

CLIENT_TIMEOUT_SECONDS = 5  # a connection silent this long is closed (an idle keep-alive one too)
HEAD_DEADLINE_SECONDS = 10  # the request line and headers, in full, within this
BODY_DEADLINE_SECONDS = 30  # then the body, in full, within this (10 MB at most, from a local client)
LINGER_SECONDS = 1  # after refusing a request, its remaining bytes are read and dropped for this long
MAX_HEAD_BYTES = 64 * 1024  # request line and headers together; more is a 431, as http.server answered before
# 10 MB request payload: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
MAX_BODY_BYTES = 10 * 1024 * 1024

_REASONS = {status.value: status.phrase for status in HTTPStatus}


@dataclass(slots=True)
class HttpRequest:
    method: str
    target: str  # the request target as sent (path and query), raw UTF-8 decoded
    headers: list[tuple[str, str]]  # names lower-cased, in the order sent
    body: bytes
    client: str
    port: int
    version: str  # "1.1"


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


# The application: a request in, a response out; and its answer to a request refused before it is whole.
Handler = Callable[[HttpRequest], Coroutine[Any, Any, HttpResponse]]
ErrorResponse = Callable[[int], HttpResponse]


class Clock:
    """`Date` changes once a second: formatted once a second, not per response."""

    def __init__(self) -> None:
        self.second = 0
        self.date = ""

    def http_date(self) -> str:
        now = int(time.time())
        if now != self.second:
            self.second, self.date = now, email.utils.formatdate(now, usegmt=True)
        return self.date


CLOCK = Clock()


class RequestError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class HttpConnection(asyncio.Protocol):
    """One client connection: parses requests as bytes arrive, answers them one at a time, in order."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client = "127.0.0.1"
        self.port = 0
        self.queue: deque[tuple[HttpRequest, bool]] = deque()  # complete requests, and whether to keep alive
        self.busy = False  # a request is being answered
        self.task: asyncio.Task[HttpResponse] | None = None  # the one answering it
        self.closing = False
        self.ended = False  # the client will send no more
        self.refusal = 0  # the status of a refused request, answered once the one running is
        # What the reaper checks: "idle" (between requests), "head" or "body" (a request arriving).
        self.stage = "idle"
        self.stage_deadline = 0.0
        self.last_read = time.monotonic()
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.head_bytes = 0
        self.body: list[bytes] = []
        self.body_bytes = 0

    # --- asyncio.Protocol ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport  # asyncio sets TCP_NODELAY on it: no ~40 ms stalls on Nagle vs delayed ACK
        peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        self.client = peer[0] if peer else "127.0.0.1"
        self.port = local[1] if local else 0
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.last_read = time.monotonic()
        if self.stage == "draining":
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:  # raised by one of ours: the status it names
            self.refuse(error.__context__.status if isinstance(error.__context__, RequestError) else 400)
        except httptools.HttpParserError:  # and HttpParserUpgrade: no WebSocket or h2c upgrade on an HTTP API
            self.refuse(400)

    def eof_received(self) -> bool:
        """The client has finished sending: answer what arrived, then close."""
        self.ended = True
        if self.stage == "draining":
            self.close()
        elif self.stage == "body":
            self.refuse(400)  # a truncated body: API Gateway's 400
        elif self.stage == "head" or not (self.busy or self.queue):
            self.close()
        return True  # keep the connection open to write the answers still owed

    # --- httptools callbacks ----------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reset()
        self.stage, self.stage_deadline = "head", self.last_read + self.server.head_deadline

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value))
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def _count_head(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > MAX_HEAD_BYTES:
            raise RequestError(431)

    def on_headers_complete(self) -> None:
        self.stage, self.stage_deadline = "body", time.monotonic() + BODY_DEADLINE_SECONDS
        declared = next((value for name, value in self.headers if name == "content-length"), None)
        if declared is not None and int(declared) > MAX_BODY_BYTES:
            raise RequestError(413)  # judged from the header, before the body is read, as API Gateway does
        expect = next((value for name, value in self.headers if name == "expect"), "")
        if expect.lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits a second for this otherwise

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > MAX_BODY_BYTES:
            raise RequestError(413)  # a chunked body has no Content-Length: counted as it streams
        self.body.append(body)

    def on_message_complete(self) -> None:
        request = HttpRequest(
            method=self.parser.get_method().decode("ascii"),
            target=self.url.decode("utf-8", errors="replace"),  # a client that sent raw UTF-8 meant UTF-8
            headers=self.headers,
            body=b"".join(self.body),
            client=self.client,
            port=self.port,
            version=self.parser.get_http_version(),
        )
        self.queue.append((request, self.parser.should_keep_alive()))
        self.stage = "idle"
        self._reset()
        if self.transport is not None and len(self.queue) > 1:
            self.transport.pause_reading()  # a client sending ahead (pipelining) waits for its answers
        if not self.busy:
            self._next()

    # --- answering --------------------------------------------------------------------------------------------

    def _next(self) -> None:
        if self.closing or not self.queue:
            return
        self.busy = True
        request, keep_alive = self.queue.popleft()
        self.task = asyncio.get_running_loop().create_task(self.server.handler(request))
        self.task.add_done_callback(lambda done: self._answered(done, request, keep_alive))

    def _answered(self, task: asyncio.Task[HttpResponse], request: HttpRequest, keep_alive: bool) -> None:
        self.busy = False
        self.last_read = time.monotonic()  # the idle timeout of a kept connection starts from its last answer
        if self.closing or task.cancelled():
            return
        keep_alive = keep_alive and not self.refusal
        self.write(
            task.result(), request.method == "HEAD", keep_alive, announce=keep_alive and request.version == "1.0"
        )
        if self.refusal:
            self.refuse(self.refusal)
            return
        if not keep_alive or (self.ended and not self.queue):
            self.close()
        elif self.queue:
            self._next()
        elif self.transport is not None and not self.transport.is_reading():
            self.transport.resume_reading()

    def write(
        self, response: HttpResponse, head_only: bool = False, keep_alive: bool = True, announce: bool = False
    ) -> None:
        """The whole response in one write. A HEAD gets the GET's headers, Content-Length included, and no body,
        as HTTP requires of any server (RFC 9110 section 9.3.2). `announce`: an HTTP/1.0 client that asked for
        keep-alive is told it is kept (RFC 9112 section 9.3), or it waits for a close (`ab -k`)."""
        if self.transport is None or self.transport.is_closing():
            return
        status = response.status
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", f"Date: {CLOCK.http_date()}"]
        lines += [f"{name}: {value}" for name, value in response.headers]
        # No Content-Length on the answers that can have no body (RFC 9110 section 8.6).
        if not (status < 200 or status in (204, 304)):
            lines.append(f"Content-Length: {len(response.body)}")
        if not keep_alive:
            lines.append("Connection: close")
        elif announce:
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        bodiless = head_only or status < 200 or status in (204, 304)
        self.transport.write(head if bodiless else head + response.body)

    def refuse(self, status: int) -> None:
        """A request too malformed, large or slow to pass on: API Gateway's JSON answer (after the answer to a
        request still running), then the connection ends."""
        if self.closing or self.stage == "draining":
            return
        self.queue.clear()
        self.refusal = status
        if not self.busy:
            self.write(self.server.error_response(status), keep_alive=False)
            self.linger()

    def linger(self) -> None:
        """Close after the client has read the answer. Closing with its unread request bytes still arriving would
        reset the connection and discard the answer on the client's side (RFC 9112 section 9.6): so the rest is
        read and thrown away for LINGER_SECONDS at most, as web servers do."""
        if self.ended:  # nothing more is coming
            self.close()
            return
        self.stage, self.stage_deadline = "draining", time.monotonic() + LINGER_SECONDS
        if self.transport is None:
            return
        if self.transport.can_write_eof():
            self.transport.write_eof()
        if not self.transport.is_reading():
            self.transport.resume_reading()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def overdue(self, now: float) -> bool:
        """Silent too long, or a request past its deadline (the reaper then ends the connection)."""
        if self.busy:
            return False
        if self.stage == "draining":
            return now > self.stage_deadline
        if now - self.last_read > self.server.client_timeout:
            return True
        return self.stage != "idle" and now > self.stage_deadline


class HttpServer:
    """Listens, and reaps connections that are overdue: a slow body gets API Gateway's 400, the rest just end."""

    def __init__(
        self,
        handler: Handler,
        error_response: ErrorResponse,
        client_timeout: float = CLIENT_TIMEOUT_SECONDS,
        head_deadline: float = HEAD_DEADLINE_SECONDS,
    ) -> None:
        self.handler = handler
        self.error_response = error_response
        # API Gateway's limits unless told otherwise (only the tests of these limits shorten them, to wait less).
        self.client_timeout = client_timeout
        self.head_deadline = head_deadline
        self.connections: set[HttpConnection] = set()
        self.server: asyncio.Server | None = None
        self.reaper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: HttpConnection(self), host, port, backlog=1024)
        self.reaper = loop.create_task(self._reap())
        return int(self.server.sockets[0].getsockname()[1])

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            for connection in [connection for connection in self.connections if connection.overdue(now)]:
                if connection.stage == "body":
                    connection.refuse(400)  # then lingers
                else:
                    connection.close()

    async def stop(self) -> None:
        if self.reaper is not None:
            self.reaper.cancel()
        if self.server is not None:
            self.server.close()
            for connection in list(self.connections):
                connection.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 2)

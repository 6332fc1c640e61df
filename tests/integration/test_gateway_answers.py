"""API Gateway's own answers, as an HTTP API gives them, over real HTTP: limits, timeouts, throttles, binary
bodies, CORS patterns, the headers it adds, and clients that misbehave. Each test cites the page it follows."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from devserver.cli import parser
from devserver.server import CLIENT_TIMEOUT_SECONDS, HEAD_DEADLINE_SECONDS, HttpServer
from tests.integration.conftest import PROJECT, DevServer, run_invoke, template_of

pytestmark = pytest.mark.devserver_only(reason="a dev server of its own on the small test project")

MB = 1024 * 1024
INTERNAL_ERROR = {"message": "Internal Server Error"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    target = tmp_path_factory.mktemp("gateway") / "project"
    shutil.copytree(PROJECT, target)
    server = DevServer(target / "template.yaml", target.parent / "devserver.log")
    yield server
    server.stop()


# The limits on slow clients, shortened so that their tests wait seconds, not API Gateway's 5 s and 10 s: the same
# code, which serves with the defaults below otherwise.
CLIENT_TIMEOUT, HEAD_DEADLINE = 2.0, 3.0


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    target = tmp_path_factory.mktemp("impatient") / "project"
    shutil.copytree(PROJECT, target)
    server = DevServer(
        target / "template.yaml",
        target.parent / "devserver.log",
        *("--client-timeout", str(CLIENT_TIMEOUT), "--head-deadline", str(HEAD_DEADLINE)),
    )
    yield server
    server.stop()


def raw_request(server: DevServer, head: bytes, body: bytes = b"", timeout: float = 30) -> bytes:
    """Send bytes exactly as given; read until the server closes (it closes after every response)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as connection:
        connection.sendall(head + body)
        connection.shutdown(socket.SHUT_WR)
        return read_all(connection)


def read_all(connection: socket.socket) -> bytes:
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    return data


def status_and_json(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


# --- Integration timeout and throttling -----------------------------------------------------------------------


def test_integration_timeout_is_503_while_the_function_runs_on_and_a_throttle_is_500(server, tmp_path):
    """/impatient has TimeoutInMillis 1000 on a function with Timeout 4 and ReservedConcurrentExecutions 1.
    HTTP API's integration timeout (at most 30 s): https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
    A throttled invocation, which Lambda rejects, is a 500: https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html"""
    marker = tmp_path / "ran-on.json"
    assert server.get("/throttled").status_code == 200  # warm, so the timings below are the handler's own

    started = time.monotonic()
    impatient = server.get("/impatient", params={"sleep": "2.5", "marker": str(marker)})
    waited = time.monotonic() - started
    throttled = server.get("/throttled")  # the one execution environment is still busy

    assert impatient.status_code == 503
    assert impatient.json() == {"message": "Service Unavailable"}
    assert 0.9 < waited < 2.3
    assert throttled.status_code == 500
    assert throttled.json() == INTERNAL_ERROR
    assert not marker.exists()
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.05)
    assert json.loads(marker.read_text())["remaining_ms"] > 0  # finished within its own 4 s
    # Its REPORT comes when it has finished, with the whole duration, not at the 503.
    deadline = time.monotonic() + 5
    while not re.search(r"Function: ThrottledFunction\tDuration: 2[5-9]\d\d\.\d\d ms", server.output()):
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.05)
    time.sleep(0.2)
    assert server.get("/throttled").status_code == 200  # free again, and still warm


# --- Payload limits ---------------------------------------------------------------------------------------------


def test_an_event_over_lambdas_6_mb_is_refused_even_under_the_gateways_10_mb(server):
    """6 MB synchronous invoke payload, measured on the encoded event: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"""
    text = server.request("POST", "/items/1", data=b"a" * (6 * MB + 1), headers={"Content-Type": "text/plain"})
    # 4.6 MB of bytes is 6.1 MB once base64-encoded into the event.
    binary = server.request(
        "POST", "/items/1", data=b"\x00" * (46 * MB // 10), headers={"Content-Type": "application/octet-stream"}
    )
    fits = server.request("POST", "/items/1", data=b"\x01" * (4 * MB), headers={"Content-Type": "image/png"})

    assert (text.status_code, text.json()) == (500, INTERNAL_ERROR)
    assert (binary.status_code, binary.json()) == (500, INTERNAL_ERROR)
    assert fits.status_code == 200
    assert fits.content == b"\x01" * (4 * MB)


def test_a_chunked_body_over_10_mb_is_refused_as_it_streams_without_buffering_it(server):
    """10 MB request payload, chunked or not: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html"""
    rss_before = rss_mb(server.process.pid)
    chunk = b"x" * MB
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        connection.sendall(b"POST /items/1 HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < 200 * MB:  # a 200 MB upload, unless the server answers first
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                connection.setblocking(False)
                try:
                    if connection.recv(1, socket.MSG_PEEK):
                        break
                except BlockingIOError:
                    pass
                finally:
                    connection.setblocking(True)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, body = status_and_json(read_all(connection))

    assert (status, body) == (413, {"message": "Request Entity Too Large"})
    assert sent < 30 * MB  # refused while streaming, not after the whole upload
    assert rss_mb(server.process.pid) - rss_before < 60
    assert server.get("/hello").status_code == 200


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


@pytest.mark.parametrize(
    ("name", "head", "body"),
    [
        ("truncated", b"POST /items/1 HTTP/1.1\r\nHost: local\r\nContent-Length: 100\r\n\r\n", b"only half" * 5),
        ("malformed chunk", b"POST /items/1 HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\n", b"zz\r\n"),
    ],
)
def test_a_broken_body_is_a_400_not_a_500(server, name, head, body):
    status, document = status_and_json(raw_request(server, head, body))

    assert (status, document) == (400, {"message": "Bad Request"}), name


# --- Bodies: text or base64, bytes never altered ----------------------------------------------------------------
# "If the content type of the request is binary, the body is base64-encoded" (payload format 2.0):
# https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html; HTTP APIs treat text/*, application/json,
# application/xml and application/javascript as text, everything else (no Content-Type included) as binary.


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain; charset=utf-8", "héllo wörld ✓".encode()),
        ("application/json", b'{"a": 1}'),
        ("application/xml", b"<a>1</a>"),
        ("application/javascript", b"let a = 1;"),
        ("text/csv", b"a,b\n1,2\n"),
    ],
)
def test_textual_bodies_arrive_as_text(server, content_type, body):
    event = server.request("POST", "/echo/x", data=body, headers={"Content-Type": content_type}).json()["event"]

    assert event["isBase64Encoded"] is False
    assert event["body"] == body.decode()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", bytes(range(256)) * 4),
        ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(200))),
        ("application/x-www-form-urlencoded", b"a=1&b=%C3%A9"),
        ("application/merge-patch+json", b'{"title": "x"}'),
        (None, b"no content type at all"),
        ("text/plain", b"latin-1 \xe9t\xe9 and \xff\xfe: not UTF-8"),  # text, but not UTF-8: base64, unaltered
    ],
)
def test_other_bodies_arrive_base64_and_round_trip_byte_for_byte(server, content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    session = requests.Session()
    request = requests.Request("POST", server.url + "/echo/x", data=body, headers=headers).prepare()
    if content_type is None:
        request.headers.pop("Content-Type", None)

    response = session.send(request, timeout=30)

    # The echo function sends a base64 body straight back: the same bytes mean they arrived as base64, intact.
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == body


# --- CORS on two HttpApis, with origin patterns -----------------------------------------------------------------
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html


def test_each_api_applies_its_own_cors_with_origin_patterns(server):
    allowed = server.get("/partner", headers={"Origin": "https://shop.example.com"})
    deeper = server.get("/partner", headers={"Origin": "https://a.b.example.com"})
    listed = server.get("/partner", headers={"Origin": "http://localhost:5173"})
    apex = server.get("/partner", headers={"Origin": "https://example.com"})
    other_scheme = server.get("/partner", headers={"Origin": "http://shop.example.com"})
    lookalike = server.get("/partner", headers={"Origin": "https://shop.example.com.evil.net"})
    other_api = server.get("/echo/x", headers={"Origin": "https://anything.test"})

    assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in allowed.headers["vary"]
    assert deeper.headers["access-control-allow-origin"] == "https://a.b.example.com"
    assert listed.headers["access-control-allow-origin"] == "http://localhost:5173"
    for refused in (apex, other_scheme, lookalike):
        assert "access-control-allow-origin" not in refused.headers
    assert other_api.headers["access-control-allow-origin"] == "*"  # the first API allows any origin


def test_a_preflight_is_answered_by_the_api_that_owns_the_path(server):
    headers = {"Origin": "https://shop.example.com", "Access-Control-Request-Method": "PUT"}
    preflight = server.request("OPTIONS", "/partner", headers=headers)
    refused = server.request("OPTIONS", "/partner", headers={**headers, "Origin": "https://evil.test"})

    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert preflight.headers["access-control-allow-methods"] == "GET,PUT"
    assert preflight.headers["access-control-max-age"] == "60"
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", preflight.headers["apigw-requestid"])
    assert "access-control-allow-origin" not in refused.headers


# --- What API Gateway adds to each request and response ----------------------------------------------------------


def test_forwarded_headers_trace_id_and_domain_are_added_as_api_gateway_adds_them(server):
    response = server.get(
        "/echo/x", headers={"X-Forwarded-For": "203.0.113.9", "Host": f"api.local.test:{server.port}"}
    )
    event = response.json()["event"]
    with_trace = server.get("/echo/x", headers={"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"})

    # The client's X-Forwarded-For is kept and the real address appended: only the last entry is trustworthy.
    assert event["headers"]["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == str(server.port)
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", event["headers"]["x-amzn-trace-id"])
    headers = with_trace.json()["event"]["headers"]
    assert headers["x-amzn-trace-id"] == "Root=1-5759e988-bd862e3fe1be46a994272793"
    assert event["requestContext"]["domainName"] == "api.local.test"
    assert event["requestContext"]["domainPrefix"] == "api"
    assert response.headers["apigw-requestid"] == event["requestContext"]["requestId"]


def test_the_gateways_own_answers_carry_its_request_id(server):
    not_found = server.get("/nowhere")
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    connection.sendall(b"POST /items/1 HTTP/1.1\r\nHost: local\r\nContent-Length: %d\r\n\r\n" % (10 * MB + 1))
    too_large = read_all(connection).decode(errors="replace")
    connection.close()

    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html
    assert (not_found.status_code, not_found.json()) == (404, {"message": "Not Found"})
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", not_found.headers["apigw-requestid"])
    assert too_large.startswith("HTTP/1.1 413")
    assert re.search(r"(?i)apigw-requestid: [A-Za-z0-9+/]{15}=", too_large)


# --- Connections: HTTP/1.1 keep-alive, as API Gateway keeps them --------------------------------------------------


def test_a_connection_is_reused_for_request_after_request_and_pipelined_requests_are_answered_in_order(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.connect()
    local = connection.sock.getsockname()
    answers = []
    for path in ("/hello", "/greeting", "/nowhere"):
        connection.request("GET", path)
        response = connection.getresponse()
        answers.append((response.status, response.getheader("Connection"), response.read()))
        assert connection.sock is not None
        assert connection.sock.getsockname() == local
    connection.close()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as pipelined:
        pipelined.sendall(
            b"GET /hello HTTP/1.1\r\nHost: local\r\n\r\n"
            b"POST /echo/x HTTP/1.1\r\nHost: local\r\nContent-Length: 5\r\n\r\nfirst"
            b"GET /nowhere HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n"
        )
        streamed = read_all(pipelined)  # the last request asked to close: the server closes after it

    assert [(status, header) for status, header, _ in answers] == [(200, None), (200, None), (404, None)]
    assert answers[0][2] == b"v1"
    statuses = re.findall(rb"HTTP/1.1 (\d{3})", streamed)
    assert statuses == [b"200", b"200", b"404"]
    assert b"\r\n\r\nfirst" in streamed  # /echo answers with the body it got
    assert streamed.count(b"Connection: close") == 1


def test_http_1_0_and_expect_100_continue_get_what_those_clients_wait_for(server):
    old = raw_request(server, b"GET /hello HTTP/1.0\r\n\r\n")  # HTTP/1.0 without keep-alive: closed after
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as kept:  # as `ab -k` asks
        kept.sendall(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        first = kept.recv(65536)
        kept.sendall(b"GET /greeting HTTP/1.0\r\n\r\n")
        second = read_all(kept)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"POST /echo/x HTTP/1.1\r\nHost: local\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        interim = connection.recv(65536)  # curl sends the body once it reads this (or after waiting a second)
        connection.sendall(b"body")
        connection.shutdown(socket.SHUT_WR)
        final = read_all(connection)

    assert old.startswith(b"HTTP/1.1 200")
    assert old.endswith(b"v1")
    assert b"\r\nConnection: keep-alive\r\n" in first
    assert first.endswith(b"v1")
    assert second.startswith(b"HTTP/1.1 200")
    assert b"\r\nConnection: close\r\n" in second
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 200")
    assert final.endswith(b"\r\n\r\nbody")


# --- Clients that misbehave -------------------------------------------------------------------------------------


def test_many_idle_and_half_sent_connections_do_not_stop_other_clients(impatient_server):
    server = impatient_server
    server.get("/hello")  # its worker warm: the requests below wait for the slow clients only, if at all
    slow: list[socket.socket] = []
    for index in range(150):
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        if index % 3 == 1:
            connection.sendall(b"GET /hello HTTP/1.1\r\nHost: local\r\n")  # headers never finished
        elif index % 3 == 2:
            connection.sendall(b"POST /items/1 HTTP/1.1\r\nHost: local\r\nContent-Length: 100\r\n\r\nstalled")
        slow.append(connection)
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda _: server.get("/hello").status_code, range(8)))
        assert statuses == [200] * 8
        assert time.monotonic() - started < 3

        # Each slow connection is closed once it has been silent for CLIENT_TIMEOUT (read_all returns then; its
        # socket's 30 s timeout fails the test otherwise); the stalled body gets API Gateway's 400 first.
        answers = [read_all(connection) for connection in slow]
        assert all(answer == b"" for answer in answers[0::3] + answers[1::3])
        assert all(answer.startswith(b"HTTP/1.1 400") for answer in answers[2::3])
    finally:
        for connection in slow:
            connection.close()


def test_a_payload_format_1_0_route_gets_a_1_0_event_and_its_response_rules(server):
    """https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html"""
    response = server.request(
        "POST",
        "/v1/echo/42?x=1&x=2&y=",
        data=b'{"a": 1}',
        headers={"Content-Type": "application/json", "Cookie": "session=abc"},
    )
    inferred = server.get("/v1/crash")  # a plain dict: 2.0 infers a 200, 1.0 has no such rule

    assert response.status_code == 200
    event = response.json()["event"]
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/echo/{id}"
    assert event["path"] == "/v1/echo/42"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["cookie"] == "session=abc"  # 1.0 has no cookies field: the header stays
    assert event["multiValueHeaders"]["content-type"] == ["application/json"]
    assert event["body"] == '{"a": 1}'
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["requestId"] == response.headers["apigw-requestid"]
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert "routeKey" not in event
    assert (inferred.status_code, inferred.json()) == (500, INTERNAL_ERROR)


def test_a_request_head_trickling_in_is_cut_off_at_its_deadline(impatient_server):
    """A slowloris: a header byte every quarter second never trips the silence timeout, but the head as a whole has
    a deadline."""
    server = impatient_server
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    connection.sendall(b"GET /hello HTTP/1.1\r\nHost: local\r\n")
    started = time.monotonic()
    try:
        while time.monotonic() - started < HEAD_DEADLINE + 5:
            connection.sendall(b"X")
            time.sleep(0.25)
    except (BrokenPipeError, ConnectionResetError):
        pass
    closed_after = time.monotonic() - started

    assert HEAD_DEADLINE - 1 < closed_after < HEAD_DEADLINE + 3
    assert server.get("/hello").status_code == 200
    connection.close()


def test_the_limits_on_slow_clients_are_api_gateways_unless_shortened():
    """5 s of silence, 10 s for a request's head: the dev server's defaults, its command line's too."""
    options = parser().parse_args([])
    server = HttpServer(handler=None, error_response=None)  # type: ignore[arg-type]  # only its limits are read

    assert (CLIENT_TIMEOUT_SECONDS, HEAD_DEADLINE_SECONDS) == (5, 10)
    assert (options.client_timeout, options.head_deadline) == (5, 10)
    assert (server.client_timeout, server.head_deadline) == (5, 10)


def test_the_default_route_catches_what_no_other_route_matches(project, start_server):
    """https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html"""
    template = project / "template.yaml"
    # An HttpApi event with neither Path nor Method is the API's $default route.
    template.write_text(
        template.read_text().replace(
            "      Events:\n        Any:", "      Events:\n        Fallback:\n          Type: HttpApi\n        Any:", 1
        )
    )
    server = start_server(template)

    fallback = server.get("/no/such/route", params={"q": "1"})
    specific = server.get("/hello")

    assert fallback.status_code == 200
    event = fallback.json()["event"]
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "$default"
    assert "pathParameters" not in event
    assert event["rawPath"] == "/no/such/route"
    assert specific.text == "v1"
    assert "$default" in server.output()


# --- What the Lambda runtime and API Gateway make of what a handler returns --------------------------------------


def test_a_handler_named_by_path_and_a_dynamodb_shaped_result_work_as_on_lambda(server):
    """`Handler: src/handlers/api.main` (the runtime turns / into .) returning Decimal numbers and bytes, which the
    runtime's marshaller encodes: https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html"""
    response = server.get("/nested")

    assert response.status_code == 200, server.output()
    assert response.json() == {"count": 3, "price": 2.5, "raw": "bytes"}


@pytest.mark.parametrize(
    ("mode", "status", "content_type", "body"),
    [
        ("text", 200, "application/json", b"hello world"),  # a string result is the body, unquoted
        ("untyped", 200, "application/json", b'{"plain": true}'),  # no content-type: JSON, as API Gateway says
        # A returned dict shaped like Lambda's error document is a success: only a raised error is an error.
        ("error-shaped", 200, "application/json", b'{"errorMessage": "not really", "errorType": "ValueError"}'),
        ("empty", 204, None, b""),
        ("dict-body", 500, "application/json", b'{"message": "Internal Server Error"}'),  # body must be a string
        ("split-header", 500, "application/json", b'{"message": "Internal Server Error"}'),  # no CR/LF in headers
    ],
)
def test_response_format_2_0_rules(server, mode, status, content_type, body):
    """https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html"""
    response = server.get("/nested", params={"mode": mode})

    assert response.status_code == status
    assert response.headers.get("content-type") == content_type
    assert response.content == body


def test_header_values_are_strings_as_json_writes_them(server):
    response = server.get("/nested", params={"mode": "header-values"})

    assert (response.headers["x-flag"], response.headers["x-count"]) == ("true", "3")


def test_the_root_logger_is_lambdas_so_basic_config_changes_nothing(server):
    """The runtime has already given the root logger its handler and level WARNING:
    https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html"""
    request_id = server.get("/nested", params={"mode": "log"}).text

    assert "hidden info line" not in server.output()
    assert re.search(
        rf"\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{request_id}\tshown warning line", server.output()
    )


def test_the_path_is_decoded_once_before_routing_so_an_encoded_slash_separates_segments(server):
    """API Gateway decodes the path, %2F included, before it matches routes ("API Gateway decodes URL-encoded
    request parameters": https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html),
    so `/items/a%2Fb` is `/items/a/b` and matches no `/items/{id}`; a path parameter is a segment of the decoded
    path, and rawPath stays as sent."""
    json_body = {"data": b"{}", "headers": {"Content-Type": "application/json"}}
    proxied = server.get("/echo/50%2525off/caf%C3%A9").json()["event"]
    split = server.get("/echo/a%2Fb").json()["event"]
    slashed = server.request("POST", "/items/a%2Fb", **json_body)
    double = server.request("POST", "/items/a%252Fb", **json_body)

    assert proxied["pathParameters"] == {"proxy": "50%25off/café"}
    assert proxied["rawPath"] == "/echo/50%2525off/caf%C3%A9"
    assert split["pathParameters"] == {"proxy": "a/b"}
    assert split["rawPath"] == "/echo/a%2Fb"
    assert slashed.status_code == 404
    assert slashed.json() == {"message": "Not Found"}
    assert double.status_code == 200
    assert double.json()["event"]["pathParameters"] == {"id": "a%2Fb"}


@pytest.mark.parametrize(
    ("request_bytes", "status", "message"),
    [
        (b"GARBAGE\r\n\r\n", 400, "Bad Request"),
        (b"GET /hello HTTP/1.1\r\nHost: local\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", 431, None),
        (b"POST /items/1 HTTP/1.1\r\nHost: local\r\nContent-Length: abc\r\n\r\n", 400, "Bad Request"),
    ],
)
def test_a_malformed_request_gets_the_gateways_json_not_an_html_page(server, request_bytes, status, message):
    raw = raw_request(server, request_bytes)
    head, _, body = raw.partition(b"\r\n\r\n")

    assert head.startswith(b"HTTP/1.1 %d" % status)
    assert b"apigw-requestid" in head.lower()
    assert json.loads(body)["message"] == (message or "Request Header Fields Too Large")


def test_invoke_finds_a_function_by_its_function_name(server, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"version": "2.0", "rawPath": "/nested", "headers": {}}))

    result = run_invoke("my-nested-fn", event, template_of(server))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"count": 3, "price": 2.5, "raw": "bytes"}


def test_a_function_over_its_memory_size_is_stopped_and_answers_500(server):
    """https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"""
    pid = server.get("/crash").json()["pid"]

    hog = server.get("/crash", params={"mode": "hog"})
    after = server.get("/crash")

    assert (hog.status_code, hog.json()) == (500, INTERNAL_ERROR)
    assert "Runtime exited with error: signal: killed" in server.output()
    assert after.json()["pid"] != pid  # a new execution environment


def test_a_handlers_unfinished_line_is_ended_before_the_report(server):
    assert server.get("/crash", params={"mode": "partial"}).status_code == 204

    assert "a line without its end\n" in server.output()
    assert "a line without its endREPORT" not in server.output()

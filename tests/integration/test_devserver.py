"""The dev server driven over HTTP, as a user drives it with curl or a browser."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT, port_is_free, run_invoke, token

pytestmark = pytest.mark.devserver_only(reason="dev servers of its own: restarts, reloads, flags, its log")


def test_event_is_a_faithful_http_api_v2_event(project, start_server):
    server = start_server(project / "template.yaml")
    # http.client, because it sends a repeated header as two lines, as browsers and proxies may.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("GET", "/echo/a/b%20c?x=1&x=2&y=", skip_accept_encoding=True)
    for name, value in [("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "a=1; b=2"), ("User-Agent", "itest/1.0")]:
        connection.putheader(name, value)
    connection.endheaders()
    raw = connection.getresponse()
    first = (raw.status, json.loads(raw.read()))
    connection.close()
    second = server.get("/echo/again")

    assert first[0] == 200
    event = first[1]["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /echo/{proxy+}"
    assert event["rawPath"] == "/echo/a/b%20c"
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["pathParameters"] == {"proxy": "a/b c"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-multi"] == "one,two"
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    context = event["requestContext"]
    assert context["stage"] == "$default"
    assert context["routeKey"] == "ANY /echo/{proxy+}"
    assert context["http"] == {
        "method": "GET",
        "path": "/echo/a/b%20c",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "itest/1.0",
    }
    assert abs(context["timeEpoch"] - time.time() * 1000) < 10_000
    assert context["requestId"] != second.json()["event"]["requestContext"]["requestId"]
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    # Template intrinsics resolved as sam local resolves them.
    assert first[1]["environment"]["GREETING"] == "hello"
    assert first[1]["environment"]["TABLE"] == "ItemsTable"
    assert first[1]["environment"]["TABLE_ARN"] == "arn:aws:dynamodb:us-east-1:123456789012:table/ItemsTable"
    assert 0 < first[1]["remaining_ms"] <= 3000


def test_response_cookies_headers_and_cors_come_out_like_api_gateway(project, start_server):
    server = start_server(project / "template.yaml")

    response = server.get("/echo/x", headers={"Origin": "https://app.example"})

    assert response.headers["x-echo"] == "1"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    # The HttpApi CorsConfiguration owns CORS: the function's own header is replaced.
    assert response.headers["access-control-allow-origin"] == "*"


def test_env_vars_file_and_parameter_overrides(project, start_server, tmp_path):
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"EchoFunction": {"FROM_ENV_JSON": "from-file", "UNDECLARED": "x"}}))
    server = start_server(
        project / "template.yaml", "--env-vars", str(env_file), "--parameter-overrides", "Greeting=hi"
    )

    environment = server.get("/echo/x").json()["environment"]

    assert environment["FROM_ENV_JSON"] == "from-file"
    assert environment["GREETING"] == "hi"


def test_binary_body_round_trips_base64(project, start_server):
    server = start_server(project / "template.yaml")
    payload = bytes(range(256)) * 4

    response = server.request("POST", "/items/1", data=payload, headers={"Content-Type": "application/octet-stream"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.content == payload


# A function that times out, crashes or raises is API Gateway's 500, not the 504 and 502 this server used to give:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html
def test_a_function_timeout_kills_the_worker_and_answers_500(project, start_server):
    server = start_server(project / "template.yaml")

    started = time.monotonic()
    response = server.get("/slow")
    elapsed = time.monotonic() - started

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "Task timed out after 1.00 seconds" in server.output()
    assert elapsed < 10  # the function's Timeout is 1 s (plus its cold start), not the handler's 30 s sleep
    assert server.get("/hello").status_code == 200  # the server itself is unaffected


def test_crash_gives_500_then_a_fresh_worker(project, start_server):
    server = start_server(project / "template.yaml")
    first_pid = server.get("/crash").json()["pid"]

    crashed = server.get("/crash", params={"mode": "exit"})
    after = server.get("/crash")

    assert crashed.status_code == 500
    assert crashed.json() == {"message": "Internal Server Error"}
    assert after.status_code == 200
    assert after.json()["pid"] != first_pid


def test_handler_exception_and_invalid_response_give_500(project, start_server):
    server = start_server(project / "template.yaml")

    raised = server.get("/crash", params={"mode": "raise"})
    invalid = server.get("/crash", params={"mode": "bad"})
    unserializable = server.get("/crash", params={"mode": "unserializable"})
    too_big = server.get("/crash", params={"mode": "big"})  # over Lambda's 6 MB response payload

    for response in (raised, invalid, unserializable, too_big):
        assert response.status_code == 500
        assert response.json() == {"message": "Internal Server Error"}
    assert "boom" not in raised.text
    # The console shows what Lambda logs: `[ERROR] <type>: <message>` and the traceback.
    assert "[ERROR] RuntimeError: boom" in server.output()
    assert "[ERROR] Runtime.MarshalError: Unable to marshal response" in server.output()
    assert "over Lambda's 6 MB invoke payload limit" in server.output()


def test_parallel_requests_use_several_warm_workers_up_to_the_limit(project, start_server):
    server = start_server(project / "template.yaml", "--concurrency", "3")

    with ThreadPoolExecutor(max_workers=8) as pool:
        pids = set(pool.map(lambda _: server.get("/crash").json()["pid"], range(24)))

    assert 1 <= len(pids) <= 3
    assert "REPORT RequestId:" in server.output()
    assert "Init Duration:" in server.output()


def test_hot_reload_restarts_only_the_edited_function(project, start_server):
    server = start_server(project / "template.yaml")
    assert server.get("/hello").text == "v1"
    echo_pid_before = server.get("/crash").json()["pid"]

    source = project / "functions" / "hello" / "app.py"
    source.write_text(source.read_text().replace('"v1"', '"v2"'))
    started = time.monotonic()
    while server.get("/hello").text != "v2":
        assert time.monotonic() - started < 10, server.output()
        time.sleep(0.1)

    assert "Reloaded HelloFunction" in server.output()
    assert server.get("/crash").json()["pid"] == echo_pid_before  # untouched function stays warm

    # A second edit of the same size within the same second: stale bytecode must not bring back "v2".
    source.write_text(source.read_text().replace('"v2"', '"v3"'))
    started = time.monotonic()
    while server.get("/hello").text != "v3":
        assert time.monotonic() - started < 10, server.output()
        time.sleep(0.05)


def test_template_edit_reloads_routes(project, start_server):
    server = start_server(project / "template.yaml")
    assert server.get("/greet").status_code == 404

    template = project / "template.yaml"
    template.write_text(template.read_text().replace("Path: /hello,", "Path: /greet,"))
    started = time.monotonic()
    while server.get("/greet").status_code != 200:
        assert time.monotonic() - started < 10, server.output()
        time.sleep(0.1)

    assert server.get("/hello").status_code == 404


def test_ctrl_c_stops_everything_and_frees_the_port(project, start_server):
    server = start_server(project / "template.yaml")
    server.get("/hello")
    children = _children(server.process.pid)
    assert children  # moto and at least one warm worker

    assert server.stop() == 0

    assert port_is_free(server.port)
    time.sleep(0.2)
    assert [pid for pid in children if Path(f"/proc/{pid}").exists() and not _is_zombie(pid)] == []


def test_ctrl_c_in_a_terminal_stops_the_workers_and_moto_quietly(project, start_server):
    server = start_server(project / "template.yaml")
    assert server.get("/hello").status_code == 200
    assert server.get("/crash").status_code == 200  # two warm workers, and moto, all in the server's group

    assert server.stop(group=True) == 0

    assert "Traceback" not in server.output()
    assert "KeyboardInterrupt" not in server.output()


def test_invoke_runs_one_function_with_an_event_file():
    result = run_invoke("HealthFunction", ROOT / "events" / "health" / "get.json")

    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok"}
    assert response["headers"]["X-Request-Id"] == "Vb3kAjYkoAMEb1A="  # the event's API Gateway request id
    # REPORT names Lambda's own request id (context.aws_request_id), as on AWS, not API Gateway's.
    assert re.search(r"REPORT RequestId: [0-9a-f-]{36}\tFunction: HealthFunction", result.stderr)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_editing_the_layer_restarts_the_functions_that_use_it(project, start_server):
    server = start_server(project / "template.yaml")
    assert server.get("/greeting").text == "hi"

    layer = project / "layers" / "common" / "greeting.py"
    layer.write_text('WORD = "hello"\n')
    started = time.monotonic()
    while server.get("/greeting").text != "hello":
        assert time.monotonic() - started < 10, server.output()
        time.sleep(0.1)

    assert "Reloaded GreetFunction" in server.output()


def test_an_external_aws_endpoint_replaces_the_embedded_one(project, start_server):
    from devserver.aws import LocalAws, MotoServer

    external = MotoServer()  # stands in for DynamoDB Local or any other endpoint
    try:
        server = start_server(project / "template.yaml", "--aws-endpoint", external.endpoint)

        assert f"AWS endpoint: {external.endpoint}" in server.output()
        environment = server.get("/echo/x").json()["environment"]
        assert environment["AWS_ENDPOINT_URL_DYNAMODB"] == external.endpoint
        assert environment["TABLE"] == "ItemsTable"
        assert "ItemsTable" in LocalAws(external.endpoint, "us-east-1").dynamodb.list_tables()["TableNames"]
    finally:
        external.stop()


def test_a_body_over_api_gateways_10_mb_limit_is_413(project, start_server):
    server = start_server(project / "template.yaml")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", "/items/1")
    connection.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    connection.endheaders()  # the body never comes: the limit is judged from the header, as API Gateway does

    response = connection.getresponse()

    assert response.status == 413
    assert json.loads(response.read()) == {"message": "Request Entity Too Large"}


def test_a_port_in_use_is_a_clear_error_not_a_traceback(project, start_server, tmp_path):
    first = start_server(project / "template.yaml")

    second = subprocess.run(
        [sys.executable, "-m", "devserver", "--template", str(project / "template.yaml"), "--port", str(first.port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{first.port}" in second.stderr
    assert "Traceback" not in second.stderr


def test_template_edits_that_cannot_apply_never_stop_hot_reload(project, start_server):
    server = start_server(project / "template.yaml")
    template = project / "template.yaml"
    original = template.read_text()

    # A function whose directory does not exist yet, then a table still being typed: neither goes live, and
    # neither stops the watcher.
    template.write_text(
        original
        + "\n  LaterFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/later/\n"
        + "      Events:\n        Get:\n          Type: HttpApi\n          Properties: {Path: /later, Method: GET}\n"
    )
    wait_for(server, lambda: "LaterFunction: CodeUri functions/later/ is not a directory" in server.output())
    assert server.get("/later").status_code == 500
    template.write_text(template.read_text() + "\n  HalfTable:\n    Type: AWS::DynamoDB::Table\n    Properties: {}\n")
    wait_for(server, lambda: "template.yaml not reloaded" in server.output())

    (project / "functions" / "later").mkdir()
    (project / "functions" / "later" / "app.py").write_text(
        "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': 'later'}\n"
    )
    assert server.get("/later").text == "later"  # the function starts once its code is there
    source = project / "functions" / "hello" / "app.py"
    source.write_text(source.read_text().replace('"v1"', '"v2"'))
    wait_for(server, lambda: server.get("/hello").text == "v2")


def test_a_deleted_requirements_file_reloads_its_function(project, start_server):
    server = start_server(project / "template.yaml")
    assert server.get("/declared").text == "2.32.3"

    (project / "functions" / "declared" / "requirements.txt").unlink()

    wait_for(server, lambda: server.get("/declared").status_code == 500)  # requests is no longer declared
    assert "No module named 'requests'" in server.output()


def wait_for(server, condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)


def test_data_persists_across_restart_with_persist(start_server, tmp_path):
    data = tmp_path / "data"
    first = start_server(ROOT / "template.yaml", "--persist", str(data))
    created = first.request(
        "POST",
        "/api/posts",
        json={"title": "Kept", "content": "across restarts"},
        headers={"Authorization": f"Bearer {token('alice')}"},
    )
    assert created.status_code == 201
    bearer = {"Authorization": f"Bearer {token('alice')}"}
    stored = first.request("POST", "/api/uploads", files={"file": ("notes.txt", b"kept\n")}, headers=bearer).json()
    assert first.stop() == 0
    assert (data / "snapshot.json").exists()

    second = start_server(ROOT / "template.yaml", "--persist", str(data))
    fetched = second.get(created.headers["Location"])

    assert fetched.status_code == 200
    assert fetched.json()["title"] == "Kept"
    # An S3 object keeps what the function set on it, not only its bytes and type.
    (listed,) = second.get("/api/uploads", headers=bearer).json()["items"]
    assert listed["uploaded_at"] == stored["uploaded_at"]
    download = requests.get(listed["url"], timeout=10)
    assert download.content == b"kept\n"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="notes.txt"')

"""Rate limits through the real dev server with the template's own limits (apikit.ratelimit): what a client sees
at and past the limit, who is counted apart from whom, what happens when the counter table fails, the metrics.

Counters are fixed windows aligned to the epoch (a window starts at floor(now / length) * length), so every test
that needs its requests in one window first makes sure enough of the current one is left (`window_left`). Each
test counts under its own key (source address, user or function), so the tests do not depend on their order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
from requests.adapters import HTTPAdapter

from devserver.runtime import DUMMY_CREDENTIALS
from tests.integration.conftest import ROOT, DevServer, token

pytestmark = pytest.mark.devserver_only(reason="dev servers of its own with the template's limits, and their moto")

RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")
# GET /api/posts answers anonymous readers `public` (a shared cache may keep it), so without any RateLimit-* field;
# with an Authorization header, which this route does not check, the answer is private and shows the counts.
SEES_COUNTS = {"Authorization": "Bearer not-checked-by-this-route"}
MINUTE, HOUR = 60, 3600
# Besides `--parameter-overrides RateLimit=5/minute` (every function without a limit of its own): the window
# reset on one function, the concurrent burst on another.
SMALL_LIMITS = {
    "UploadsListFunction": {"RATE_LIMIT": "3/2s"},
    "PostsGetFunction": {"RATE_LIMIT": "20/hour"},
}
WRONG_PASSWORD = "not the password at all"
PASSWORD = "correct horse battery staple"


# --- helpers ---------------------------------------------------------------------------------------------------


def window_left(length: int, needed: float) -> None:
    """Wait for the next window of `length` seconds when fewer than `needed` seconds are left in this one."""
    left = length - time.time() % length
    if left < needed:
        time.sleep(left + 0.05)


class _SourceAddress(HTTPAdapter):
    def __init__(self, address: str) -> None:
        self.address = address  # read by init_poolmanager, which HTTPAdapter.__init__ calls
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


class Client:
    """HTTP to the dev server from one loopback address (the whole of 127.0.0.0/8 is this machine)."""

    def __init__(self, server: DevServer, address: str = "127.0.0.1") -> None:
        self.server = server
        self.session = requests.Session()
        self.session.mount("http://", _SourceAddress(address))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.server.url + path, timeout=30, allow_redirects=False, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def login(self, email: str, password: str = WRONG_PASSWORD) -> requests.Response:
        return self.request("POST", "/api/auth/login", json={"email": email, "password": password})

    def signup(self, email: str) -> requests.Response:
        return self.request("POST", "/api/auth/signup", json={"email": email, "password": PASSWORD, "name": "Test"})


def bearer(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id)}"}


def unique_email(purpose: str) -> str:
    return f"{purpose}-{uuid.uuid4().hex[:12]}@example.com"


def remaining(response: requests.Response) -> int:
    return int(response.headers["RateLimit-Remaining"])


def assert_too_many(response: requests.Response, window: int) -> None:
    """A 429 as documented: problem+json, never stored, Retry-After equal to the window's RateLimit-Reset."""
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 429
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"]
    assert 1 <= int(response.headers["Retry-After"]) <= window


def wait_for(server: DevServer, condition: Callable[[str], bool], start: int = 0, timeout: float = 5) -> str:
    """The dev server's output from `start` once `condition` holds for it."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.output()[start:]
        if condition(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def invocation_output(server: DevServer, send: Callable[[], requests.Response]) -> tuple[requests.Response, str]:
    """One request, and what its function printed: from its request log line (correlation id = X-Request-Id) to
    its REPORT line. Powertools prints the EMF metrics as the handler returns, in between."""
    start = len(server.output())
    response = send()
    marker = f'"correlation_id":"{response.headers["X-Request-Id"]}"'
    text = wait_for(server, lambda text: marker in text, start)
    assert marker in text, f"no request log line for {response.headers['X-Request-Id']}:\n{text}"
    request_line = next(json.loads(line) for line in text.splitlines() if marker in line)
    report = f"REPORT RequestId: {request_line['function_request_id']}"
    text = wait_for(server, lambda text: report in text, start)
    first = text.rfind("\n", 0, text.index(marker)) + 1  # from the start of the first line that names it
    return response, text[first : text.index(report)]


def emf_metrics(text: str) -> dict[str, list[dict[str, Any]]]:
    """Each metric name in the EMF documents of `text` -> the documents that carry it."""
    found: dict[str, list[dict[str, Any]]] = {}
    for line in text.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    found.setdefault(metric["Name"], []).append(document)
    return found


# --- servers ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """template.yaml with RateLimit=5/minute (login and signup keep their own) and SMALL_LIMITS from env.json."""
    directory = tmp_path_factory.mktemp("rate-limits")
    env_vars = directory / "env.json"
    env_vars.write_text(json.dumps(SMALL_LIMITS))
    server = DevServer(
        ROOT / "template.yaml",
        directory / "devserver.log",
        "--parameter-overrides",
        "RateLimit=5/minute",
        "--env-vars",
        str(env_vars),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def without_counter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """template.yaml exactly as it is, its rate-limit table deleted after a first counted request."""
    server = DevServer(ROOT / "template.yaml", tmp_path_factory.mktemp("no-counter") / "devserver.log")
    try:
        counted = server.get("/api/posts", headers=SEES_COUNTS)
        assert counted.headers["RateLimit-Policy"] == "120;w=60"  # the template's default, counted before
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=server.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
        )
        # Locally `!Ref RateLimitTable` is the logical id, as sam local resolves it (devserver.template).
        assert "RateLimitTable" in dynamodb.list_tables()["TableNames"]
        dynamodb.delete_table(TableName="RateLimitTable")
        yield server
    finally:
        server.stop()


# --- the limit and its headers -----------------------------------------------------------------------------------


def test_the_limit_is_reached_exactly_at_n_plus_one(limited):
    """With RateLimit=5/minute, five GETs of /api/posts are served, each saying how many are left (4 to 0), the
    limit, the policy and the seconds to the window's end; the sixth, and any after it, are 429 problem+json
    with Retry-After equal to RateLimit-Reset, never stored by a cache."""
    client = Client(limited, "127.0.0.10")
    window_left(MINUTE, 10)
    served = []
    for _ in range(5):
        response = client.get("/api/posts", headers=SEES_COUNTS)
        seconds_to_window_end = MINUTE - time.time() % MINUTE
        assert response.status_code == 200, response.text
        assert response.json() == {"items": [], "next_cursor": None}
        assert response.headers["RateLimit-Limit"] == "5"
        assert response.headers["RateLimit-Policy"] == "5;w=60"
        reset = int(response.headers["RateLimit-Reset"])
        assert 1 <= reset <= 60
        assert abs(reset - seconds_to_window_end) <= 2  # counts down to the end of the epoch-aligned minute
        served.append(remaining(response))
    assert served == [4, 3, 2, 1, 0]

    refused = client.get("/api/posts", headers=SEES_COUNTS)
    assert_too_many(refused, MINUTE)
    assert refused.headers["RateLimit-Limit"] == "5"
    assert refused.headers["RateLimit-Policy"] == "5;w=60"
    assert refused.json()["title"] == "Too Many Requests"
    assert "5 requests per 60 seconds" in refused.json()["detail"]
    assert (
        client.get("/api/posts", headers=SEES_COUNTS).status_code == 429
    )  # still refused: refusals count, nothing resets early


def test_the_count_starts_again_when_the_window_ends(limited):
    """UploadsListFunction with RATE_LIMIT 3/2s (env.json): three requests in a two-second window, the fourth is
    429 with Retry-After of at most 2 s; once the window is over the same caller is served again."""
    client = Client(limited, "127.0.0.11")
    carol = bearer("carol")
    assert client.get("/api/uploads", headers=carol).status_code in (200, 429)  # a warm worker: the burst is quick
    window_left(2, 2)  # the start of a fresh window
    window_start = time.time() // 2 * 2
    burst = [client.get("/api/uploads", headers=carol) for _ in range(4)]
    assert time.time() < window_start + 2, "the burst outlasted its window: the machine is too slow for this test"
    assert [response.status_code for response in burst] == [200, 200, 200, 429]
    assert [remaining(response) for response in burst[:3]] == [2, 1, 0]
    assert burst[0].headers["RateLimit-Policy"] == "3;w=2"
    assert_too_many(burst[3], 2)

    time.sleep(max(0.0, window_start + 2 - time.time()) + 0.05)
    again = client.get("/api/uploads", headers=carol)
    assert again.status_code == 200
    assert remaining(again) == 2


# --- who is counted --------------------------------------------------------------------------------------------


def test_each_address_has_its_own_count(limited):
    """While 127.0.0.1 is limited on GET /api/posts, 127.0.0.2 and 127.0.0.3 are each served from a count of their
    own; headers a client can send (X-Forwarded-For, CloudFront-Viewer-Address without the CDN's origin token)
    do not give 127.0.0.1 a new one."""
    window_left(MINUTE, 10)
    local = Client(limited, "127.0.0.1")
    statuses = [local.get("/api/posts", headers=SEES_COUNTS).status_code for _ in range(6)]
    assert statuses[-1] == 429, statuses

    second, third = Client(limited, "127.0.0.2"), Client(limited, "127.0.0.3")
    assert [remaining(second.get("/api/posts", headers=SEES_COUNTS)) for _ in range(2)] == [4, 3]
    first_of_third = third.get("/api/posts", headers=SEES_COUNTS)
    assert first_of_third.status_code == 200
    assert remaining(first_of_third) == 4
    for _ in range(3):
        assert second.get("/api/posts", headers=SEES_COUNTS).status_code == 200
    assert_too_many(second.get("/api/posts", headers=SEES_COUNTS), MINUTE)
    assert remaining(third.get("/api/posts", headers=SEES_COUNTS)) == 3  # untouched by the second address' refusals

    spoofed = {"X-Forwarded-For": "198.51.100.7", "CloudFront-Viewer-Address": "198.51.100.7:4711"}
    assert_too_many(local.get("/api/posts", headers=spoofed), MINUTE)


def test_each_user_has_its_own_count(limited):
    """On GET /api/orders (bearer auth), signed-in callers are counted by user: alice limited after five, bob
    still served from the same address, and the address' own allowance (for unauthenticated requests) untouched."""
    client = Client(limited, "127.0.0.12")
    alice, bob = bearer("alice"), bearer("bob")
    window_left(MINUTE, 10)
    answers = [client.get("/api/orders", headers=alice) for _ in range(5)]
    assert [response.status_code for response in answers] == [200] * 5
    assert [remaining(response) for response in answers] == [4, 3, 2, 1, 0]
    assert_too_many(client.get("/api/orders", headers=alice), MINUTE)

    for_bob = client.get("/api/orders", headers=bob)
    assert for_bob.status_code == 200
    assert remaining(for_bob) == 4

    anonymous = client.get("/api/orders")
    assert anonymous.status_code == 401
    assert remaining(anonymous) == 4  # the address' first request: alice's and bob's were not its


def test_an_invalid_token_is_counted_against_the_address(limited):
    """Requests with an invalid bearer token are counted by source address: five 401s use its allowance, the
    sixth is 429 rather than 401 (guessing tokens is limited too), while a valid user from there is still served."""
    client = Client(limited, "127.0.0.13")
    forged = {"Authorization": "Bearer not.a.token"}
    window_left(MINUTE, 10)
    rejected = [client.get("/api/orders", headers=forged) for _ in range(5)]
    assert [response.status_code for response in rejected] == [401] * 5
    assert [remaining(response) for response in rejected] == [4, 3, 2, 1, 0]
    assert "WWW-Authenticate" in rejected[0].headers
    assert_too_many(client.get("/api/orders", headers=forged), MINUTE)
    assert_too_many(client.get("/api/orders"), MINUTE)  # no token at all: the same address count

    served = client.get("/api/orders", headers=bearer("erin"))
    assert served.status_code == 200
    assert remaining(served) == 4


def test_routes_without_a_limit_are_never_counted(limited):
    """GET /api/health, /api/hello, /api/docs and /api/openapi.json have RATE_LIMIT "off": far more requests than
    the 5/minute default are all answered, none with RateLimit-* headers."""
    client = Client(limited, "127.0.0.14")
    for path in ("/api/health", "/api/hello", "/api/docs", "/api/openapi.json"):
        answers = [client.get(path) for _ in range(8)]
        assert [response.status_code for response in answers] == [200] * 8, path
        for response in answers:
            assert not [name for name in RATE_LIMIT_HEADERS if name in response.headers], path


# --- login and signup --------------------------------------------------------------------------------------------


def test_login_is_limited_per_address(limited):
    """Login allows 10 attempts a minute per address (template): the 11th wrong password for one email from
    127.0.0.1 is 429, while another email from another address still reaches the password check (401)."""
    window_left(MINUTE, 15)
    window_left(HOUR, 30)  # the email's count is hourly: all of it in one hour
    email = unique_email("guessed")
    assert Client(limited, "127.0.0.20").signup(email).status_code == 201
    local = Client(limited, "127.0.0.1")
    wrong = [local.login(email) for _ in range(10)]
    assert [response.status_code for response in wrong] == [401] * 10
    assert all(response.headers["RateLimit-Limit"] == "10" for response in wrong)
    assert_too_many(local.login(email), MINUTE)  # the address limit: its window is a minute
    assert local.login(email, PASSWORD).status_code == 429  # the right password too: the address is refused

    elsewhere = Client(limited, "127.0.0.21").login(unique_email("other"))
    assert elsewhere.status_code == 401
    assert elsewhere.json()["detail"] == "The email or password is incorrect."


def test_login_is_limited_per_email_across_addresses(limited):
    """Login allows 10 attempts an hour per email from however many addresses: after 10 wrong passwords from five
    addresses, an 11th attempt from a fresh address is 429 for that email, even with the right password and with
    the email in capitals, while another email from that address still gets its 401."""
    window_left(HOUR, 30)
    email = unique_email("target")
    assert Client(limited, "127.0.0.22").signup(email).status_code == 201
    for host in range(30, 35):
        client = Client(limited, f"127.0.0.{host}")
        assert [client.login(email).status_code for _ in range(2)] == [401, 401]

    fresh = Client(limited, "127.0.0.35")
    refused = fresh.login(email, PASSWORD)
    assert_too_many(refused, HOUR)
    assert refused.headers["RateLimit-Policy"] == "10;w=3600"
    assert fresh.login(email.upper(), PASSWORD).status_code == 429  # the same account, however it is spelled
    assert fresh.login(unique_email("bystander")).status_code == 401


def test_signup_is_limited_per_address(limited):
    """Signup allows 5 a minute per address (template): five new accounts from one address are created, the
    sixth is 429 and creates nothing (the same email signs up from another address afterwards)."""
    window_left(MINUTE, 15)
    client = Client(limited, "127.0.0.40")
    created = [client.signup(unique_email("new")) for _ in range(5)]
    assert [response.status_code for response in created] == [201] * 5
    assert [remaining(response) for response in created] == [4, 3, 2, 1, 0]
    email = unique_email("sixth")
    assert_too_many(client.signup(email), MINUTE)
    assert Client(limited, "127.0.0.41").signup(email).status_code == 201


def test_signup_is_limited_per_email(limited):
    """Signup allows 5 attempts an hour per email (template): after one account and four 409 conflicts from
    several addresses, a sixth attempt for that email from a fresh address is 429."""
    window_left(HOUR, 30)
    email = unique_email("popular")
    assert Client(limited, "127.0.0.42").signup(email).status_code == 201
    for host in (43, 44):
        client = Client(limited, f"127.0.0.{host}")
        assert [client.signup(email).status_code for _ in range(2)] == [409, 409]
    refused = Client(limited, "127.0.0.45").signup(email)
    assert_too_many(refused, HOUR)
    assert refused.headers["RateLimit-Policy"] == "5;w=3600"


# --- counting under load -----------------------------------------------------------------------------------------

_BURST = """
import http.client, json, sys, time

host, port, path, start, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
time.sleep(max(0.0, start - time.time()))
answers = []
for _ in range(count):
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.request("GET", path, headers={"Authorization": "Bearer not-checked-by-this-route"})  # SEES_COUNTS
    response = connection.getresponse()
    response.read()
    answers.append([response.status, response.getheader("RateLimit-Remaining")])
    connection.close()
print(json.dumps(answers))
"""


def test_concurrent_requests_never_get_past_the_limit(limited):
    """PostsGetFunction with RATE_LIMIT 20/hour (env.json): 4 processes sending 15 GETs each at once, from one
    address, get exactly 20 answers 200 (each with its own RateLimit-Remaining, 19 down to 0) and 40 answers 429:
    one atomic UpdateItem per request, no margin within a window."""
    created = limited.request("POST", "/api/posts", json={"title": "Busy", "content": ""}, headers=bearer("writer"))
    assert created.status_code == 201
    path = created.headers["Location"]
    window_left(HOUR, 30)
    start = time.time() + 1.0  # every process sends its first request at this moment
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _BURST, "127.0.0.1", str(limited.port), path, str(start), "15"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    answers = [answer for process in processes for answer in json.loads(process.communicate(timeout=120)[0])]
    statuses = [status for status, _ in answers]
    assert statuses.count(200) == 20, statuses
    assert statuses.count(429) == 40, statuses
    assert sorted(int(left) for status, left in answers if status == 200) == list(range(20))


# --- when the counter fails -------------------------------------------------------------------------------------


def test_a_failing_counter_fails_open(without_counter):
    """With the rate-limit table gone, GET /api/posts is still served (200, without RateLimit-* headers); the
    function logs a warning and publishes the RateLimitErrors metric."""
    response, output = invocation_output(
        without_counter, lambda: without_counter.get("/api/posts", headers=SEES_COUNTS)
    )
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert not [name for name in RATE_LIMIT_HEADERS if name in response.headers]
    assert "rate limit counter unavailable; serving the request (fail open)" in output
    assert '"level":"WARNING"' in output
    errors = emf_metrics(output).get("RateLimitErrors", [])
    assert [document["RateLimitErrors"] for document in errors] == [[1.0]]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login", {"email": "someone@example.com", "password": WRONG_PASSWORD}),
        ("/api/auth/signup", {"email": "someone@example.com", "password": PASSWORD, "name": "Someone"}),
    ],
)
def test_a_failing_counter_fails_closed_on_login_and_signup(without_counter, path, body):
    """With the rate-limit table gone, login and signup (RATE_LIMIT_FAIL_CLOSED) refuse with 503 problem+json and
    Retry-After rather than allow unbounded password guessing."""
    response, output = invocation_output(without_counter, lambda: without_counter.request("POST", path, json=body))
    assert response.status_code == 503, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"
    assert not [name for name in RATE_LIMIT_HEADERS if name in response.headers]
    assert "rate limit counter unavailable; refusing the request (fail closed)" in output
    assert [document["RateLimitErrors"] for document in emf_metrics(output)["RateLimitErrors"]] == [[1.0]]


# --- metrics --------------------------------------------------------------------------------------------------


def test_a_refused_request_publishes_rate_limited(limited):
    """A 429 publishes the EMF metric RateLimited (1); the served requests before it publish none."""
    client = Client(limited, "127.0.0.50")
    window_left(MINUTE, 10)
    for _ in range(5):
        served, output = invocation_output(limited, lambda: client.get("/api/posts", headers=SEES_COUNTS))
        assert served.status_code == 200
        assert "RateLimited" not in emf_metrics(output)
    refused, output = invocation_output(limited, lambda: client.get("/api/posts", headers=SEES_COUNTS))
    assert refused.status_code == 429
    assert [document["RateLimited"] for document in emf_metrics(output)["RateLimited"]] == [[1.0]]


def test_an_unauthenticated_request_publishes_auth_failures(limited):
    """A 401 publishes the EMF metric AuthFailures (1); a served request from the same caller publishes none."""
    client = Client(limited, "127.0.0.51")
    window_left(MINUTE, 5)
    rejected, output = invocation_output(limited, lambda: client.get("/api/orders"))
    assert rejected.status_code == 401
    assert [document["AuthFailures"] for document in emf_metrics(output)["AuthFailures"]] == [[1.0]]
    served, output = invocation_output(limited, lambda: client.get("/api/orders", headers=bearer("frank")))
    assert served.status_code == 200
    assert "AuthFailures" not in emf_metrics(output)


def test_a_cold_start_publishes_cold_start(limited):
    """The first invocation of a function (here logout, used by no other test) publishes ColdStart with the
    function's name; the next one, on the now warm worker, does not."""
    client = Client(limited, "127.0.0.52")
    first, output = invocation_output(limited, lambda: client.request("POST", "/api/auth/logout"))
    assert first.status_code == 204
    cold = emf_metrics(output)["ColdStart"]
    assert [(document["function_name"], document["ColdStart"]) for document in cold] == [("AuthLogoutFunction", [1.0])]
    second, output = invocation_output(limited, lambda: client.request("POST", "/api/auth/logout"))
    assert second.status_code == 204
    assert "ColdStart" not in emf_metrics(output)

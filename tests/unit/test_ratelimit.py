"""Rate limits (apikit.ratelimit), security headers and metrics, in-process against moto's DynamoDB.

The dev-server tests (tests/integration/test_rate_limits.py) cover the same over HTTP, from several addresses
and processes; these pin the rules: the window's arithmetic, who counts as a client, and what fails how.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pytest
from botocore.exceptions import ClientError

from apikit import ratelimit
from apikit.app import SECURITY_HEADERS
from apikit.ratelimit import Limit, client_address, count, parse_limit
from tests.conftest import _client, assert_problem, bearer, invoke, invoke_fresh_app, load_event, load_function

# --- the configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "limit"),
    [
        ("60/minute", Limit(60, 60)),
        ("60/minutes", Limit(60, 60)),
        ("10/15m", Limit(10, 900)),
        ("5 / 30s", Limit(5, 30)),
        ("1000/hour", Limit(1000, 3600)),
        ("3/2h", Limit(3, 7200)),
        ("100000/day", Limit(100000, 86400)),
        ("1/second", Limit(1, 1)),
        ("OFF", None),
        ("", None),
    ],
)
def test_a_limit_is_requests_per_window(spec, limit):
    assert parse_limit(spec) == limit


@pytest.mark.parametrize("spec", ["60", "0/minute", "60/fortnight", "-1/minute", "60/0m", "ten/minute", "60/m/s"])
def test_a_limit_that_means_nothing_is_refused_with_the_forms_that_work(spec):
    with pytest.raises(ValueError, match=r"e\.g\. 60/minute"):
        parse_limit(spec)


def test_the_policy_field_names_the_limit_and_its_window_in_seconds():
    assert Limit(10, 900).policy == "10;w=900"


# --- the window -----------------------------------------------------------------------------------------


def test_the_limit_is_reached_exactly_at_n_plus_one_and_the_next_window_starts_afresh(aws):
    limit = Limit(3, 60)
    start = 1_800_000_000.0  # a multiple of 60: a window starts here

    decisions = [count("group#ip#198.51.100.7", limit, now=start + second) for second in (0, 10, 20, 59)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert [d.reset_seconds for d in decisions] == [60, 50, 40, 1]
    fresh = count("group#ip#198.51.100.7", limit, now=start + 60)
    assert (fresh.allowed, fresh.remaining, fresh.reset_seconds) == (True, 2, 60)


def test_each_client_and_group_has_its_own_count(aws):
    limit = Limit(1, 60)
    now = 1_800_000_000.0

    assert count("posts#ip#198.51.100.7", limit, now=now).allowed
    assert not count("posts#ip#198.51.100.7", limit, now=now).allowed
    assert count("posts#ip#198.51.100.8", limit, now=now).allowed
    assert count("posts#user#alice", limit, now=now).allowed
    assert count("orders#ip#198.51.100.7", limit, now=now).allowed


def test_a_counter_expires_by_ttl_soon_after_its_window_and_is_one_item_per_window(aws):
    count("g#ip#198.51.100.7", Limit(5, 60), now=1_800_000_030.0)

    items = _client("dynamodb").scan(TableName="RateLimitTable")["Items"]

    assert items == [
        {
            "pk": {"S": "g#ip#198.51.100.7#60#1800000000"},
            "hits": {"N": "1"},
            "expires_at": {"N": str(1_800_000_060 + 60)},
        }
    ]


@pytest.mark.parametrize(
    ("moment", "window_start"),
    [
        pytest.param(math.nextafter(1_800_000_000.0, 0), 1_799_999_940, id="a-hair-before-a-boundary"),
        pytest.param(1_800_000_000.0, 1_800_000_000, id="on-a-boundary"),
        pytest.param(1_800_000_059.5, 1_800_000_000, id="half-a-second-before-the-next"),
    ],
)
def test_a_request_counts_in_the_window_that_contains_its_moment(aws, moment, window_start):
    count("g#ip#198.51.100.7", Limit(5, 60), now=moment)

    (item,) = _client("dynamodb").scan(TableName="RateLimitTable")["Items"]

    assert item["pk"] == {"S": f"g#ip#198.51.100.7#60#{window_start}"}


def test_the_counters_table_is_rate_limits_unless_the_environment_names_another(aws, monkeypatch):
    monkeypatch.delenv("RATE_LIMIT_TABLE")
    _client("dynamodb").create_table(
        TableName="rate-limits",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    count("g#ip#198.51.100.7", Limit(5, 60), now=1_800_000_000.0)

    assert _client("dynamodb").scan(TableName="rate-limits")["Count"] == 1
    assert _client("dynamodb").scan(TableName="RateLimitTable")["Count"] == 0


def test_the_headers_report_the_tightest_of_the_limits_counted():
    loose = ratelimit.Decision(Limit(100, 60), hits=10, reset_seconds=30)
    tight = ratelimit.Decision(Limit(10, 3600), hits=9, reset_seconds=1200)
    ratelimit.decisions[:] = [loose, tight]
    try:
        assert ratelimit.response_headers() == {
            "RateLimit-Limit": "10",
            "RateLimit-Remaining": "1",
            "RateLimit-Reset": "1200",
            "RateLimit-Policy": "10;w=3600",
        }
    finally:
        ratelimit.decisions.clear()


# --- who the client is ----------------------------------------------------------------------------------


def event_from(source_ip: str, **headers: str) -> dict[str, Any]:
    return {"headers": headers, "requestContext": {"http": {"sourceIp": source_ip}}}


def test_the_client_is_the_source_ip_and_an_ipv6_client_its_64(monkeypatch):
    monkeypatch.delenv("CDN_ORIGIN_VERIFY", raising=False)

    assert client_address(event_from("198.51.100.7")) == "198.51.100.7"
    assert client_address(event_from("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
    assert client_address(event_from("2001:db8:1:2:bbbb::9")) == client_address(event_from("2001:db8:1:2::5"))


def test_a_forwarded_address_is_ignored_unless_cloudfront_vouches_for_it(monkeypatch):
    edge = "130.176.0.1"  # what API Gateway sees behind CloudFront
    monkeypatch.setenv("CDN_ORIGIN_VERIFY", "stack-token")

    viewer = event_from(edge, **{"x-origin-verify": "stack-token", "cloudfront-viewer-address": "198.51.100.7:46532"})
    forged = event_from(edge, **{"x-origin-verify": "guess", "cloudfront-viewer-address": "203.0.113.1:1"})
    unvouched = event_from(edge, **{"cloudfront-viewer-address": "203.0.113.1:1", "x-forwarded-for": "203.0.113.2"})
    ipv6 = event_from(edge, **{"x-origin-verify": "stack-token", "cloudfront-viewer-address": "2001:db8::7:443"})

    assert client_address(viewer) == "198.51.100.7"
    assert client_address(forged) == edge
    assert client_address(unvouched) == edge
    assert client_address(ipv6) == "2001:db8::/64"


@pytest.mark.parametrize(
    ("event", "client"),
    [
        pytest.param({"headers": None, "requestContext": {"http": {"sourceIp": ""}}}, "unknown", id="empty-source"),
        pytest.param({"requestContext": {"http": {}}}, "unknown", id="no-source-ip"),
        pytest.param({"requestContext": {}}, "unknown", id="no-http"),
        pytest.param({}, "unknown", id="no-request-context"),
        pytest.param(event_from("not-an-address"), "not-an-address", id="not-an-ip"),
    ],
)
def test_a_client_without_a_usable_address_is_counted_as_what_was_sent_or_unknown(monkeypatch, event, client):
    monkeypatch.delenv("CDN_ORIGIN_VERIFY", raising=False)

    assert client_address(event) == client


def test_without_the_cdn_no_token_is_trusted_not_even_an_empty_one(monkeypatch):
    monkeypatch.setenv("CDN_ORIGIN_VERIFY", "")
    sent = event_from("198.51.100.7", **{"x-origin-verify": "", "cloudfront-viewer-address": "203.0.113.1:1"})

    assert client_address(sent) == "198.51.100.7"


def test_without_the_cdn_variable_no_forwarded_address_is_trusted(monkeypatch):
    monkeypatch.delenv("CDN_ORIGIN_VERIFY", raising=False)
    sent = event_from("198.51.100.7", **{"x-origin-verify": "", "cloudfront-viewer-address": "203.0.113.1:1"})

    assert client_address(sent) == "198.51.100.7"


# --- whose count: the route group -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "function", "prefix"),
    [
        pytest.param("posts", "api-routes-PostsListFunction", "posts", id="the-group"),
        pytest.param(None, "api-routes-PostsListFunction", "api-routes-PostsListFunction", id="else-the-function"),
        pytest.param("", "api-routes-PostsListFunction", "api-routes-PostsListFunction", id="an-empty-group"),
        pytest.param(None, None, "api", id="else-api"),
    ],
)
def test_a_client_is_counted_per_route_group_by_default_its_function(aws, monkeypatch, group, function, prefix):
    monkeypatch.setenv("RATE_LIMIT", "5/minute")
    for name, value in (("RATE_LIMIT_GROUP", group), ("AWS_LAMBDA_FUNCTION_NAME", function)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)

    ratelimit.enforce(event_from("198.51.100.7"), None)
    ratelimit.enforce(event_from("198.51.100.7"), "alice")
    ratelimit.decisions.clear()

    keys = sorted(
        item["pk"]["S"].split("#60#")[0] for item in _client("dynamodb").scan(TableName="RateLimitTable")["Items"]
    )
    assert keys == [f"{prefix}#ip#198.51.100.7", f"{prefix}#user#alice"]


# --- through a function ---------------------------------------------------------------------------------


def list_posts(source_ip: str = "198.51.100.7", **headers: str) -> Any:
    event = load_event("posts_list/get.json", headers={"if-none-match": None, **headers})
    event["requestContext"]["http"]["sourceIp"] = source_ip
    return invoke("posts_list", event)


def test_a_function_counts_each_address_and_answers_429_with_retry_after(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "2/hour")

    # With an Authorization header (not checked by this route) the answers are private, so they show the counts.
    first, second, third = (list_posts(authorization="Bearer unchecked") for _ in range(3))

    assert (first.status, second.status) == (200, 200)
    assert [first.headers["ratelimit-remaining"], second.headers["ratelimit-remaining"]] == ["1", "0"]
    problem = assert_problem(third, 429)
    assert problem["detail"] == "The limit is 2 requests per 3600 seconds. Try again later."
    assert third.headers["retry-after"] == third.headers["ratelimit-reset"]
    assert third.raw["headers"]["Retry-After"] == third.headers["retry-after"]  # spelled as documented
    assert 1 <= int(third.headers["retry-after"]) <= 3600
    assert third.headers["cache-control"] == "no-store"
    assert list_posts("198.51.100.8").status == 200


def test_a_signed_in_client_is_counted_by_user_whatever_its_address(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "1/hour")

    def orders(user: str, source_ip: str) -> Any:
        event = load_event("posts_list/get.json", path="/api/orders", headers={"authorization": bearer(user)})
        event["routeKey"] = "GET /api/orders"
        event["rawQueryString"], event["queryStringParameters"] = "", {}
        event["requestContext"]["http"]["sourceIp"] = source_ip
        return invoke("orders_list", event)

    assert orders("alice", "198.51.100.7").status == 200
    assert orders("alice", "198.51.100.99").status == 429  # another address, the same user
    assert orders("bob", "198.51.100.7").status == 200  # the same address, another user


def test_an_invalid_token_is_counted_against_the_address_so_guessing_tokens_is_limited_too(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "2/hour")

    def me(authorization: str) -> Any:
        event = load_event("posts_list/get.json", path="/api/auth/me", headers={"authorization": authorization})
        event["routeKey"] = "GET /api/auth/me"
        event["rawQueryString"], event["queryStringParameters"] = "", {}
        return invoke("auth_me", event)

    assert [me("Bearer forged").status for _ in range(2)] == [401, 401]
    assert me("Bearer forged").status == 429


def test_when_the_counter_fails_a_request_is_served_with_a_warning_and_a_metric(aws, monkeypatch, capsys, caplog):
    monkeypatch.setenv("RATE_LIMIT", "1/hour")
    monkeypatch.setenv("RATE_LIMIT_TABLE", "NoSuchTable")

    results = [list_posts(), list_posts()]

    assert [result.status for result in results] == [200, 200]
    assert not any(name.startswith("ratelimit-") for name in results[1].headers)
    assert "fail open" in caplog.text
    assert "RateLimitErrors" in metric_names(capsys.readouterr().out)
    warnings = [record for record in caplog.records if "fail open" in record.getMessage()]
    assert warnings
    assert all(record.exc_info and issubclass(record.exc_info[0], ClientError) for record in warnings)


def test_each_request_the_counter_fails_for_counts_one_rate_limit_error(aws, monkeypatch, capsys):
    monkeypatch.setenv("RATE_LIMIT", "1/hour")
    monkeypatch.setenv("RATE_LIMIT_TABLE", "NoSuchTable")

    assert list_posts().status == 200

    assert published_metrics(capsys.readouterr().out)["RateLimitErrors"] == ("Count", 1.0)


def test_login_fails_closed_when_its_counter_fails(aws, monkeypatch, capsys):
    monkeypatch.setenv("RATE_LIMIT", "10/minute")
    monkeypatch.setenv("RATE_LIMIT_FAIL_CLOSED", "true")
    monkeypatch.setenv("RATE_LIMIT_TABLE", "NoSuchTable")
    body = {"email": "ada@example.com", "password": "correct horse battery"}

    result = invoke("auth_login", load_event("auth_login/post.json", body=body))

    problem = assert_problem(result, 503)
    assert problem["detail"] == "Too many requests could not be ruled out; try again shortly."
    assert result.headers["retry-after"] == "5"
    assert result.raw["headers"]["Retry-After"] == "5"  # as API Gateway passes it on, and as documented
    assert "RateLimitErrors" in metric_names(capsys.readouterr().out)


def test_login_is_limited_per_email_from_any_address(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "100/minute")
    monkeypatch.setenv("RATE_LIMIT_PER_EMAIL", "2/hour")

    def login(email: str, source_ip: str) -> Any:
        event = load_event("auth_login/post.json", body={"email": email, "password": "wrong password!"})
        event["requestContext"]["http"]["sourceIp"] = source_ip
        return invoke("auth_login", event)

    assert [login("ada@example.com", f"198.51.100.{n}").status for n in (1, 2)] == [401, 401]
    limited = login("ADA@example.com ", "198.51.100.3")  # the same address, once normalised
    assert_problem(limited, 429)
    assert limited.headers["ratelimit-policy"] == "2;w=3600"
    assert login("grace@example.com", "198.51.100.3").status == 401


def test_signup_is_limited_per_email_from_any_address(aws, monkeypatch):
    monkeypatch.setenv("RATE_LIMIT", "100/minute")
    monkeypatch.setenv("RATE_LIMIT_PER_EMAIL", "2/hour")

    def signup(email: str, source_ip: str) -> Any:
        body = {"email": email, "password": "a long enough password", "name": "Ada"}
        event = load_event("auth_signup/post.json", body=body)
        event["requestContext"]["http"]["sourceIp"] = source_ip
        return invoke("auth_signup", event)

    assert [signup("ada@example.com", f"198.51.100.{n}").status for n in (1, 2)] == [201, 409]
    assert_problem(signup("ada@example.com", "198.51.100.3"), 429)
    assert signup("grace@example.com", "198.51.100.3").status == 201


@pytest.mark.parametrize(("function", "status"), [("auth_login", 401), ("auth_signup", 201)])
def test_the_per_email_counter_keeps_only_a_hash_of_the_address_under_its_own_name(aws, monkeypatch, function, status):
    """An operator lifting one account's lockout deletes `<group>#email#<sha256 of the address>#...`; the table
    never holds the address itself."""
    monkeypatch.setenv("RATE_LIMIT_PER_EMAIL", "5/hour")
    body = {"email": "ada@example.com", "password": "wrong password!", "name": "Ada"}
    if function == "auth_login":
        del body["name"]

    assert invoke(function, load_event(f"{function}/post.json", body=body)).status == status

    keys = [item["pk"]["S"] for item in _client("dynamodb").scan(TableName="RateLimitTable")["Items"]]
    [email_key] = [key for key in keys if "#email#" in key]
    assert email_key.split("#email#")[1].startswith(hashlib.sha256(b"ada@example.com").hexdigest() + "#3600#")
    assert not any("example.com" in key for key in keys)


# --- what every response carries ------------------------------------------------------------------------


def metric_names(stdout: str) -> set[str]:
    """Names of the metrics in the EMF lines Powertools printed."""
    names = set()
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
                names |= {metric["Name"] for metric in directive["Metrics"]}
    return names


def published_metrics(stdout: str) -> dict[str, tuple[str, float]]:
    """Each metric in the EMF lines Powertools printed: its unit and the sum of its values."""
    published: dict[str, tuple[str, float]] = {}
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    values = document[metric["Name"]]
                    total = sum(values) if isinstance(values, list) else values
                    published[metric["Name"]] = (metric["Unit"], published.get(metric["Name"], ("", 0.0))[1] + total)
    return published


def test_a_401_and_a_429_are_counted_as_metrics(aws, monkeypatch, capsys):
    monkeypatch.setenv("RATE_LIMIT", "1/hour")
    event = load_event("posts_list/get.json", path="/api/auth/me", headers={"authorization": "Bearer nope"})
    event["routeKey"] = "GET /api/auth/me"

    assert invoke("auth_me", event).status == 401
    assert published_metrics(capsys.readouterr().out)["AuthFailures"] == ("Count", 1.0)
    assert invoke("auth_me", event).status == 429
    assert published_metrics(capsys.readouterr().out)["RateLimited"] == ("Count", 1.0)


def test_a_containers_first_invocation_publishes_the_cold_start_metric_and_later_ones_do_not(aws, monkeypatch, capsys):
    from aws_lambda_powertools.metrics.provider import cold_start

    monkeypatch.setattr(cold_start, "is_cold_start", True)  # a new container

    assert invoke("health", load_event("health/get.json")).status == 200
    first = capsys.readouterr().out
    assert invoke("health", load_event("health/get.json")).status == 200
    second = capsys.readouterr().out

    assert published_metrics(first)["ColdStart"] == ("Count", 1.0)
    assert "ColdStart" not in metric_names(second)


def test_of_two_limits_with_as_much_left_the_headers_name_the_one_that_resets_later(monkeypatch):
    """The tightest limit: least remaining, then the longest wait (a client told "reset in 10 s" would retry into the
    other limit)."""
    hourly = ratelimit.Decision(Limit(10, 3600), hits=4, reset_seconds=1800)
    minutely = ratelimit.Decision(Limit(6, 60), hits=0, reset_seconds=10)
    monkeypatch.setattr(ratelimit, "decisions", [minutely, hourly])

    assert ratelimit.response_headers()["RateLimit-Policy"] == "10;w=3600"
    monkeypatch.setattr(ratelimit, "decisions", [hourly, minutely])
    assert ratelimit.response_headers()["RateLimit-Reset"] == "1800"


def test_every_handler_make_handler_makes_publishes_the_cold_start_metric(aws, monkeypatch, capsys):
    from aws_lambda_powertools.metrics.provider import cold_start

    monkeypatch.setattr(cold_start, "is_cold_start", True)  # a new container

    assert invoke_fresh_app(dict).status == 200

    assert published_metrics(capsys.readouterr().out)["ColdStart"] == ("Count", 1.0)


def test_security_headers_and_no_store_are_on_every_answer_unless_the_route_opts_in(aws):
    error = invoke("posts_get", load_event("posts_get/get.json", path="/api/posts/not-a-uuid"))
    listed = list_posts()

    for result in (error, listed):
        for name, value in SECURITY_HEADERS.items():
            assert result.headers[name.lower()] == value
    assert error.headers["cache-control"] == "no-store"
    assert listed.headers["cache-control"] == "public, max-age=10"


def test_hello_which_has_no_layer_sends_the_same_security_headers():
    hello = load_function("hello")
    result = hello.lambda_handler(load_event("health/get.json", path="/api/hello"), None)

    assert {name: result["headers"][name] for name in SECURITY_HEADERS} == SECURITY_HEADERS


def test_an_answer_shared_caches_may_keep_carries_no_clients_counts(aws, monkeypatch):
    """A public answer (posts to anonymous readers) may be handed by a proxy or CDN to other clients."""
    monkeypatch.setenv("RATE_LIMIT", "5/hour")

    anonymous = list_posts()
    signed_in = list_posts(authorization="Bearer whatever")

    assert anonymous.status == 200
    assert anonymous.headers["cache-control"] == "public, max-age=10"
    assert not any(name.startswith("ratelimit-") for name in anonymous.headers)
    assert signed_in.headers["cache-control"] == "private, no-cache"
    assert signed_in.headers["ratelimit-remaining"] == "3"  # counted all the same: the second request

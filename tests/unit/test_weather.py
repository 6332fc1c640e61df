"""GET /api/weather, in-process, against a fake OpenWeatherMap over real HTTP (tests/fakes/weather_api.py).

The handler runs as Lambda runs it (event, LambdaContext with a remaining time) with the key the `aws` fixture keeps
in Secrets Manager; requests really goes over loopback, so encoding, timeouts, retries and connection errors are
requests' own, not a mock's.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import threading
import time
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from devserver.worker import LambdaContext
from tests.conftest import WEATHER_API_KEY, Result, assert_problem, invoke, load_event, load_function
from tests.fakes.weather_api import FakeWeatherApi

PATH = "/api/weather"
SUCCESS_CACHE = "public, max-age=300, stale-while-revalidate=60"
LONDON_METRIC = {
    "city": "London",
    "country": "GB",
    "temperature": 11.2,
    "feels_like": 10.4,
    "humidity": 81,
    "description": "light rain",
    "wind_speed": 4.1,
    "observed_at": "2026-11-28T10:00:00Z",
    "units": "metric",
}


# --- helpers ----------------------------------------------------------------------------------------------


def weather_event(query: dict[str, str] | None) -> dict[str, Any]:
    """An HTTP API v2 event for GET /api/weather, its query string encoded as a browser sends it."""
    event = load_event("health/get.json", path=PATH)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {PATH}"
    event["rawQueryString"] = urlencode(query or {})
    if query is not None:
        event["queryStringParameters"] = query  # API Gateway hands the values over decoded
    return event


def get_weather(query: dict[str, str] | None, timeout: float = 10) -> Result:
    """Call the handler with a context that has `timeout` seconds left, as Lambda would."""
    return invoke("weather", weather_event(query), LambdaContext("WeatherFunction", 512, timeout))


def assert_error(result: Result, status: int) -> dict[str, Any]:
    body = assert_problem(result, status, PATH)
    assert result.headers["cache-control"] == "no-store"
    return body


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there any more: a connection is refused at once


@pytest.fixture(scope="module")
def fake_weather() -> Iterator[FakeWeatherApi]:
    with FakeWeatherApi(WEATHER_API_KEY) as fake:
        yield fake


@pytest.fixture
def upstream(aws: None, fake_weather: FakeWeatherApi, monkeypatch: pytest.MonkeyPatch) -> FakeWeatherApi:
    """The fake, reset, as WEATHER_API_URL; the function's cache emptied (one warm container per test)."""
    fake_weather.reset()
    monkeypatch.setenv("WEATHER_API_URL", fake_weather.url)
    load_function("weather").cache.entries.clear()
    return fake_weather


@pytest.fixture
def warm_key(aws: None) -> None:
    """The API key already cached, as in a warm container. A cold one with under 2.5 s left would not even ask
    Secrets Manager (apikit.aws: no AWS call that could outlast the invocation): a 504 without calling upstream."""
    from apikit.secrets import get_secret

    assert get_secret("WEATHER_API_KEY_ARN") == WEATHER_API_KEY


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move time.monotonic forward (for everything, consistently) by `clock(seconds)`."""
    real = time.monotonic
    offset = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: real() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """Everything logged, down to DEBUG: the shared Powertools Logger's lines (as with the template's
    LogLevel=DEBUG) and every other logger's records (as when someone chasing a bug lowers the root logger, which
    the Lambda runtime leaves at WARNING, to DEBUG).

    Except botocore's: at DEBUG it logs every response body, GetSecretValue's SecretString included, for every
    secret of every function (boto3 documents it and warns against DEBUG in production; it is not this
    function's to change)."""
    from apikit.logging import logger

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    level = logger.log_level
    logger.setLevel("DEBUG")
    caplog.set_level(logging.DEBUG)

    def read() -> str:
        records = [record.getMessage() for record in caplog.records if not record.name.startswith("botocore")]
        return stream.getvalue() + "\n".join(records)

    yield read
    logger.setLevel(level)


# --- success ----------------------------------------------------------------------------------------------


def test_a_known_city_is_its_current_weather_cached_publicly(upstream):
    event = weather_event({"city": "London"})

    response = load_function("weather").lambda_handler(event, LambdaContext("WeatherFunction", 512, 10))

    assert response["statusCode"] == 200, response["body"]
    headers = {key.lower(): value for key, value in response["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == SUCCESS_CACHE
    assert headers["x-request-id"] == event["requestContext"]["requestId"]
    assert Result(200, headers, response["body"], [], response).json() == LONDON_METRIC  # metric by default
    [sent] = upstream.requests
    assert sent.params == {"q": ["London"], "units": ["metric"], "appid": [WEATHER_API_KEY]}


@pytest.mark.parametrize(
    ("units", "temperature", "wind_speed"),
    [("metric", 11.2, 4.1), ("imperial", 52.16, 9.17), ("standard", 284.35, 4.1)],
)
def test_units_are_passed_upstream_and_named_in_the_answer(upstream, units, temperature, wind_speed):
    result = get_weather({"city": "London", "units": units})

    assert result.status == 200, result.body
    body = result.json()
    assert (body["units"], body["temperature"], body["wind_speed"]) == (units, temperature, wind_speed)
    assert upstream.requests[-1].param("units") == units


CITIES = [
    ("São Paulo", "São Paulo", "BR"),
    ("東京", "Tokyo", "JP"),
    ("नई दिल्ली", "New Delhi", "IN"),
    ("N'Djamena", "N'Djamena", "TD"),
    ("St. John's", "St. John's", "CA"),
    ("New York", "New York", "US"),
    ("são paulo", "São Paulo", "BR"),
]


@pytest.mark.parametrize(("city", "name", "country"), CITIES)
def test_cities_with_spaces_punctuation_and_any_script_reach_upstream_intact(upstream, city, name, country):
    result = get_weather({"city": city})

    assert result.status == 200, result.body
    assert (result.json()["city"], result.json()["country"]) == (name, country)
    [sent] = upstream.requests
    assert sent.raw_query.isascii()  # percent-encoded UTF-8 on the wire
    assert " " not in sent.raw_query
    assert sent.param("q") == city  # and decoded, exactly what the caller asked for


def test_the_hindi_name_really_has_combining_marks():
    # Keeps the case above honest: its vowel signs and virama are marks (M*), not letters.
    assert {unicodedata.category(character) for character in "नई दिल्ली"} >= {"Mc", "Mn"}


@pytest.mark.parametrize(("city", "sent"), [("St. John\u2019s", "St. John's"), ("N\u2019Djamena", "N'Djamena")])
def test_a_typographic_apostrophe_is_an_apostrophe(upstream, city, sent):
    # What a phone's keyboard types ("smart punctuation"): the same city, asked for as upstream spells it.
    result = get_weather({"city": city})

    assert result.status == 200, result.body
    assert upstream.requests[0].param("q") == sent


def test_extra_whitespace_in_a_city_is_collapsed_before_asking(upstream):
    result = get_weather({"city": "  São   Paulo "})

    assert result.status == 200, result.body
    assert upstream.requests[0].param("q") == "São Paulo"


def test_a_city_of_100_characters_is_asked_for(upstream):
    result = get_weather({"city": "x" * 100})

    assert_error(result, 404)
    assert upstream.requests[0].param("q") == "x" * 100


# --- the caller's mistakes: 400 before any call upstream ------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        None,
        {},
        {"city": ""},
        {"city": "   "},
        {"city": "\t\n"},
        {"city": "12345"},
        {"city": "."},
        {"city": "- ' ,"},
        {"city": "Paris 75"},
        {"city": "<script>alert(1)</script>"},
        {"city": "London&appid=mine"},
        {"city": "London; DROP TABLE"},
        {"city": "😀"},
        {"city": "Paris 🗼"},
        {"city": "a" * 101},
        {"city": "London", "units": "kelvin"},
        {"city": "London", "units": "METRIC"},
    ],
    # Printable ASCII only: pytest cannot select an id holding an escape (an emoji, a tab) by name a second time in
    # one process, as make mutate does.
    ids=lambda query: re.sub(r"[^ -\[\]-~]", "?", repr(query))[:40],
)
def test_a_missing_or_invalid_city_or_units_is_a_400_without_asking_upstream(upstream, query):
    result = get_weather(query)

    body = assert_error(result, 400)
    assert body["errors"]
    assert body["errors"][0]["loc"][0] == "query"
    assert upstream.requests == []


# --- upstream's answers mapped ------------------------------------------------------------------------------


def test_an_unknown_city_is_a_404(upstream):
    result = get_weather({"city": "Atlantis"})

    body = assert_error(result, 404)
    assert "city" in body["detail"]
    assert len(upstream.requests) == 1


def test_upstream_refusing_our_key_is_a_502_and_an_error_for_operators(upstream, logs):
    upstream.fail(401)

    result = get_weather({"city": "London"})

    body = assert_error(result, 502)
    assert "key" not in body["detail"].lower()
    assert "weather upstream refused our key" in logs()
    assert len(upstream.requests) == 1  # not retried: the key will not get better


def test_a_wrong_key_in_secrets_manager_is_a_502(upstream, monkeypatch):
    monkeypatch.setattr(upstream, "api_key", "the-key-upstream-really-has")

    assert_error(get_weather({"city": "London"}), 502)


@pytest.mark.parametrize(("sent", "expected"), [("17", "17"), (None, "60"), ("Wed, 21 Oct 2026 07:28:00 GMT", "60")])
def test_upstream_rate_limiting_is_a_503_with_retry_after(upstream, sent, expected):
    upstream.fail(429, retry_after=sent)

    result = get_weather({"city": "London"})

    assert_error(result, 503)
    assert result.headers["retry-after"] == expected
    assert len(upstream.requests) == 1


def test_an_upstream_500_is_a_502_not_retried(upstream):
    upstream.fail(500)

    result = get_weather({"city": "London"})

    body = assert_error(result, 502)
    assert "Internal error" not in body["detail"]
    assert len(upstream.requests) == 1


def test_an_answer_that_is_not_json_is_a_502(upstream):
    upstream.garble()

    assert_error(get_weather({"city": "London"}), 502)


def test_errors_are_not_cached(upstream):
    upstream.fail(500)
    assert_error(get_weather({"city": "London"}), 502)

    result = get_weather({"city": "London"})

    assert result.status == 200
    assert len(upstream.requests) == 2


# --- time: a slow upstream is a 504 before Lambda's own timeout -------------------------------------------


def test_a_slow_upstream_is_a_504_before_the_function_times_out(upstream, warm_key):
    upstream.delay(5)
    function_timeout = 1.5  # seconds left in the invocation

    started = time.monotonic()
    result = get_weather({"city": "London"}, timeout=function_timeout)
    elapsed = time.monotonic() - started

    assert_error(result, 504)
    assert elapsed < function_timeout - 0.2  # time left to answer: Lambda would otherwise kill it (a 500)
    assert elapsed > 0.5  # it did wait for upstream, as long as it could
    assert len(upstream.requests) == 1  # no retry: the time a retry needs is gone


@contextlib.contextmanager
def overloaded_upstream() -> Iterator[str]:
    """An upstream too busy to accept at once and then silent: its accept queue is full, so a new connection's SYN
    is dropped and only its retransmission (after 1 s, Linux's initial RTO) gets through, once a slot is freed;
    accepted, it is never answered. Yields its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    for _ in range(3):  # fill the accept queue
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        queued.append(client)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_slowly() -> None:
        listener.settimeout(0.1)
        stop.wait(0.3)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept_slowly, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/data/2.5/weather"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in (*queued, *accepted, listener):
            connection.close()


def test_a_slow_connection_and_then_a_silent_upstream_is_a_504_in_time(aws, monkeypatch, warm_key):
    # requests' timeouts are per phase: the connection's and then the read's must fit in the time left together.
    function_timeout = 2.0
    with overloaded_upstream() as url:
        monkeypatch.setenv("WEATHER_API_URL", url)
        load_function("weather").cache.entries.clear()
        started = time.monotonic()
        result = get_weather({"city": "London"}, timeout=function_timeout)
        elapsed = time.monotonic() - started

    assert_error(result, 504)
    assert elapsed < function_timeout - 0.2


def test_with_no_time_left_it_answers_504_without_asking(upstream, warm_key):
    result = get_weather({"city": "London"}, timeout=0.5)

    assert_error(result, 504)
    assert upstream.requests == []


# --- retries: once, on what may pass -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_transient_gateway_error_is_retried_once_then_succeeds(upstream, status):
    upstream.fail(status)

    result = get_weather({"city": "London"})

    assert result.status == 200, result.body
    assert result.json() == LONDON_METRIC
    assert len(upstream.requests) == 2


def test_a_reset_connection_is_retried_once_then_succeeds(upstream):
    upstream.reset_connection()

    result = get_weather({"city": "London"})

    assert result.status == 200, result.body
    assert len(upstream.requests) == 2


def test_a_second_failure_is_a_502_after_exactly_two_calls(upstream):
    upstream.fail(503, times=3)

    assert_error(get_weather({"city": "London"}), 502)
    assert len(upstream.requests) == 2


def test_a_connection_reset_twice_is_a_502(upstream):
    upstream.reset_connection(times=3)

    body = assert_error(get_weather({"city": "London"}), 502)
    assert "reached" in body["detail"]
    assert len(upstream.requests) == 2


def test_an_answer_cut_short_is_a_502(upstream):
    upstream.truncate()

    body = assert_error(get_weather({"city": "London"}), 502)
    assert "reached" in body["detail"]


def test_an_unreachable_upstream_is_a_502(aws, monkeypatch):
    monkeypatch.setenv("WEATHER_API_URL", f"http://127.0.0.1:{closed_port()}/data/2.5/weather")
    load_function("weather").cache.entries.clear()

    started = time.monotonic()
    result = get_weather({"city": "London"})

    assert_error(result, 502)
    assert time.monotonic() - started < 1.5  # refused twice, a short pause between: no waiting for a timeout


# --- the cache: one upstream call per city, units and minute ------------------------------------------------


def test_a_second_request_within_a_minute_is_answered_from_the_cache(upstream, clock):
    first = get_weather({"city": "London"})
    clock(59)
    second = get_weather({"city": "london"})  # the same city, whatever its case

    assert (first.status, second.status) == (200, 200)
    assert second.json() == first.json()
    assert second.headers["cache-control"] == SUCCESS_CACHE
    assert len(upstream.requests) == 1


def test_after_a_minute_upstream_is_asked_again(upstream, clock):
    get_weather({"city": "London"})
    clock(61)

    result = get_weather({"city": "London"})

    assert result.status == 200
    assert len(upstream.requests) == 2


def test_other_units_are_another_cache_entry(upstream):
    metric = get_weather({"city": "London", "units": "metric"})
    imperial = get_weather({"city": "London", "units": "imperial"})
    metric_again = get_weather({"city": "London"})

    assert (metric.json()["units"], imperial.json()["units"]) == ("metric", "imperial")
    assert metric.json()["temperature"] != imperial.json()["temperature"]
    assert metric_again.json() == metric.json()
    assert [sent.param("units") for sent in upstream.requests] == ["metric", "imperial"]


def test_the_cache_is_bounded_and_forgets_the_oldest_city(upstream, monkeypatch):
    monkeypatch.setattr(load_function("weather").cache, "size", 2)

    for city in ("London", "Tokyo", "New York", "Tokyo", "London"):
        assert get_weather({"city": city}).status == 200

    # Tokyo stayed (2 entries: Tokyo, New York); London was evicted by New York, so it was asked for again.
    assert [sent.param("q") for sent in upstream.requests] == ["London", "Tokyo", "New York", "London"]


# --- the key stays ours --------------------------------------------------------------------------------------


def _unreachable(upstream: FakeWeatherApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEATHER_API_URL", f"http://127.0.0.1:{closed_port()}/data/2.5/weather")


SCENARIOS = {
    "success": lambda upstream, monkeypatch: None,
    "401": lambda upstream, monkeypatch: upstream.fail(401),
    "429": lambda upstream, monkeypatch: upstream.fail(429, retry_after="5"),
    "500": lambda upstream, monkeypatch: upstream.fail(500),
    "503 twice": lambda upstream, monkeypatch: upstream.fail(503, times=2),
    "not JSON": lambda upstream, monkeypatch: upstream.garble(),
    "connection reset twice": lambda upstream, monkeypatch: upstream.reset_connection(times=2),
    "connection refused": _unreachable,
    "answer cut short": lambda upstream, monkeypatch: upstream.truncate(),
    "read timeout": lambda upstream, monkeypatch: upstream.delay(3),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_key_is_in_no_log_line_body_or_header(upstream, monkeypatch, logs, capsys, scenario, warm_key):
    SCENARIOS[scenario](upstream, monkeypatch)

    result = get_weather({"city": "London"}, timeout=1.5)

    assert result.status in (200, 502, 503, 504)
    if scenario != "connection refused":
        assert upstream.requests[0].param("appid") == WEATHER_API_KEY  # it was sent, where it belongs
    captured = capsys.readouterr()
    for text in (logs(), captured.out, captured.err, result.body, repr(result.headers)):
        assert WEATHER_API_KEY not in text
        assert WEATHER_API_KEY[:12] + "q" * 4 not in text  # nor a good part of it


@pytest.mark.parametrize("observed", [10**12, -1])
def test_an_observation_time_outside_the_calendar_is_a_502_not_a_500(observed):
    """time.gmtime raises OverflowError past the year 9999: upstream nonsense is upstream's failure (502)."""
    import json

    import requests

    from apikit.errors import BadGateway

    answer = requests.Response()
    answer.status_code = 200
    answer._content = json.dumps(
        {
            "name": "London",
            "main": {"temp": 1, "feels_like": 1, "humidity": 1},
            "weather": [{"description": "fog"}],
            "wind": {"speed": 1},
            "dt": observed,
        }
    ).encode()

    with pytest.raises(BadGateway):
        load_function("weather")._weather(answer, "metric")

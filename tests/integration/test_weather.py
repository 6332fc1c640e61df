"""GET /api/weather and GET /api/hello through the real dev server over HTTP, the weather service being the fake
OpenWeatherMap of tests/fakes/weather_api.py (a real HTTP server too), as a new user would wire it up: their key in
secrets.local.json, WEATHER_API_URL in an env.json given with `--env-vars`.

The dev server serves a copy of template.yaml in a project directory of the test's own (so the secrets are the
test's, not the developer's). The copy differs in one line: WeatherFunction's Timeout is 3 s instead of 10, so that
a slow weather service is a 504 in about 2 s.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devserver.template import load_app
from tests.conftest import TOKEN_KEYS
from tests.fakes.weather_api import FakeWeatherApi
from tests.integration.conftest import ROOT, DevServer

pytestmark = pytest.mark.devserver_only(reason="a dev server of its own with a fake weather service, and its log")

WEATHER_API_KEY = "integration-weather-" + "w" * 24
FUNCTION_TIMEOUT = 3  # seconds, WeatherFunction's in the test's copy of the template
CODE_URI = "      CodeUri: functions/weather/\n"


def project_for_the_test(directory: Path) -> Path:
    template = (ROOT / "template.yaml").read_text()
    assert template.count(CODE_URI) == 1, "WeatherFunction's CodeUri moved: update this test"
    template = template.replace(CODE_URI, f"{CODE_URI}      Timeout: {FUNCTION_TIMEOUT}\n")
    directory.mkdir()
    (directory / "template.yaml").write_text(template)
    for folder in ("functions", "layers"):
        (directory / folder).symlink_to(ROOT / folder, target_is_directory=True)
    secrets = {name: uuid.uuid4().hex for name in load_app(directory / "template.yaml").secrets}
    (directory / "secrets.local.json").write_text(json.dumps(secrets | TOKEN_KEYS | {"WeatherApiKey": WEATHER_API_KEY}))
    return directory / "template.yaml"


@pytest.fixture(scope="module")
def fake_weather() -> Iterator[FakeWeatherApi]:
    with FakeWeatherApi(WEATHER_API_KEY) as fake:
        yield fake


@pytest.fixture
def weather_api(fake_weather: FakeWeatherApi) -> FakeWeatherApi:
    fake_weather.reset()
    return fake_weather


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, fake_weather: FakeWeatherApi) -> Iterator[DevServer]:
    directory = tmp_path_factory.mktemp("weather")
    template = project_for_the_test(directory / "project")
    env_vars = directory / "env.json"
    env_vars.write_text(json.dumps({"WeatherFunction": {"WEATHER_API_URL": fake_weather.url}}))
    server = DevServer(template, directory / "devserver.log", "--env-vars", str(env_vars), "--no-reload")
    yield server
    server.stop()


def assert_problem(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert (body["status"], body["instance"]) == (status, "/api/weather")
    return body


def test_the_weather_of_a_city_through_the_dev_server(api, weather_api):
    response = api.get("/api/weather", params={"city": "São Paulo", "units": "metric"})

    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "public, max-age=300, stale-while-revalidate=60"
    assert response.headers["X-Request-Id"]
    body = response.json()
    assert (body["city"], body["country"], body["units"]) == ("São Paulo", "BR", "metric")
    assert body["temperature"] == 25.0
    [sent] = weather_api.requests
    assert sent.param("q") == "São Paulo"
    assert sent.param("appid") == WEATHER_API_KEY  # secrets.local.json's key, through Secrets Manager


def test_an_unknown_city_is_a_404(api, weather_api):
    assert_problem(api.get("/api/weather", params={"city": "Atlantis"}), 404)
    assert len(weather_api.requests) == 1


@pytest.mark.parametrize("city", ["12345", "😀", "   "])
def test_a_bad_city_is_a_400_without_asking_the_weather_service(api, weather_api, city):
    body = assert_problem(api.get("/api/weather", params={"city": city}), 400)

    assert body["errors"][0]["loc"] == ["query", "city"]
    assert weather_api.requests == []


def test_a_slow_weather_service_is_a_504_before_the_function_times_out(api, weather_api):
    weather_api.delay(FUNCTION_TIMEOUT + 5)

    started = time.monotonic()
    response = api.get("/api/weather", params={"city": "Tokyo"})
    elapsed = time.monotonic() - started

    assert_problem(response, 504)  # the function's own answer, not API Gateway's 500 for a timed-out function
    assert elapsed < FUNCTION_TIMEOUT
    assert "Task timed out" not in api.output()


def test_the_key_is_not_in_the_dev_server_output(api, weather_api):
    api.get("/api/weather", params={"city": "London"})  # at least one call with the key, whatever ran before

    assert weather_api.requests[0].param("appid") == WEATHER_API_KEY
    assert WEATHER_API_KEY not in api.output()

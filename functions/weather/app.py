"""GET /api/weather?city=&units=: the current weather from an OpenWeatherMap-compatible API, with our key.

The key comes from Secrets Manager and never leaves this module: not in a log, an error or a response (requests'
own exception messages carry the URL, key included, so none of them is ever logged or chained). Answers are
cached by browsers and CloudFront for 5 minutes, and here for 60 s per city, so a warm function asks upstream
once per city and minute.
"""

import logging
import os
import random
import re
import time
import unicodedata
from collections import OrderedDict
from http import HTTPStatus
from typing import Annotated, Literal

import requests
from aws_lambda_powertools.event_handler import Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from apikit.app import create_app, make_handler
from apikit.errors import BadGateway, GatewayTimeout, NotFound, ServiceUnavailable
from apikit.logging import logger
from apikit.responses import json_response
from apikit.routes import route
from apikit.secrets import get_secret

app = create_app()
session = requests.Session()  # one connection pool for the life of the execution environment
CACHE_SECONDS = 60
CACHE_SIZE = 256
CONNECT_TIMEOUT = 2.0  # seconds at most; reading gets the rest of what remains, less a margin to answer
MARGIN_SECONDS = 0.5
RETRY_STATUSES = {502, 503, 504}
SUCCESS_CACHE = "public, max-age=300, stale-while-revalidate=60"
_ALLOWED_PUNCTUATION = frozenset(" -',.")
_APPID = re.compile(r"appid=[^&\s'\"]*")


class _WithoutKey(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string and so our key included (written out as soon as
    someone lowers the root logger to DEBUG): those lines keep everything but the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "appid=" in message:
            record.msg, record.args = _APPID.sub("appid=***", message), None
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3"):  # a logger's filters skip its children
    logging.getLogger(_name).addFilter(_WithoutKey())


def _city_name(value: str) -> str:
    # Letters (and their combining marks) of any script, spaces and - ' , . : "São Paulo", "N'Djamena", "東京".
    # Phones type U+2019 (right single quotation mark) for an apostrophe: the same name, spelt as upstream does.
    value = value.replace("\u2019", "'")
    categories = [unicodedata.category(character)[0] for character in value]
    if "L" not in categories or any(
        character not in _ALLOWED_PUNCTUATION and category not in "LM"
        for character, category in zip(value, categories, strict=True)
    ):
        raise ValueError("a city is letters, spaces, -, ', comma and .")
    return " ".join(value.split())


class WeatherQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    city: Annotated[
        str,
        Field(min_length=1, max_length=100, description="A city name, e.g. `São Paulo`."),
        AfterValidator(_city_name),
    ]
    units: Literal["metric", "imperial", "standard"] = Field(
        default="metric", description="Celsius and m/s, Fahrenheit and mph, or Kelvin and m/s."
    )


class Weather(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "city": "London",
                    "country": "GB",
                    "temperature": 11.2,
                    "feels_like": 10.4,
                    "humidity": 81,
                    "description": "light rain",
                    "wind_speed": 4.1,
                    "observed_at": "2026-11-27T10:00:00Z",
                    "units": "metric",
                }
            ]
        }
    )
    city: str
    country: str | None
    temperature: float
    feels_like: float
    humidity: int
    description: str
    wind_speed: float
    observed_at: str = Field(description="When upstream observed it (UTC, ISO 8601).")
    units: Literal["metric", "imperial", "standard"]


class _Upstream(BaseModel):
    """The part of OpenWeatherMap's current-weather answer we read; anything else in it is ignored."""

    class Main(BaseModel):
        temp: float
        feels_like: float
        humidity: int

    class Condition(BaseModel):
        description: str

    class Wind(BaseModel):
        speed: float

    class Sys(BaseModel):
        country: str | None = None

    name: str
    main: Main
    weather: list[Condition] = Field(min_length=1)
    wind: Wind
    dt: int = Field(ge=0, le=253402300799)  # up to 9999-12-31: gmtime of more is an OverflowError, a 500
    sys: Sys = Sys()


class TtlCache:
    """At most `size` answers, each for `seconds`; the oldest goes first (functools.lru_cache has no expiry)."""

    def __init__(self, seconds: float, size: int) -> None:
        self.seconds, self.size = seconds, size
        self.entries: OrderedDict[tuple[str, str], tuple[float, Weather]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Weather | None:
        entry = self.entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            self.entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: tuple[str, str], value: Weather) -> None:
        self.entries[key] = (time.monotonic() + self.seconds, value)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


cache = TtlCache(CACHE_SECONDS, CACHE_SIZE)


def _fetch(query: WeatherQuery) -> requests.Response:
    """One GET upstream, retried once (with jitter) on a connection error or 502/503/504, within the time left."""
    url = os.environ.get("WEATHER_API_URL", "https://api.openweathermap.org/data/2.5/weather")
    params = {"q": query.city, "units": query.units, "appid": get_secret("WEATHER_API_KEY_ARN")}
    for attempt in (1, 2):
        remaining = app.lambda_context.get_remaining_time_in_millis() / 1000 - MARGIN_SECONDS
        if remaining <= 0.1:
            raise GatewayTimeout("The weather service did not answer in time.")
        # requests' timeouts are per phase, not in all: connecting, then each read. Together they fit in what
        # remains (a body trickling in byte by byte could still outlast it: only a thread could cut that short).
        connect = min(CONNECT_TIMEOUT, remaining / 3)
        try:
            answer = session.get(url, params=params, timeout=(connect, remaining - connect))
        except requests.Timeout:
            # No retry: a read timeout has used the time a retry would need. `from None`: the message has the key.
            raise GatewayTimeout("The weather service did not answer in time.") from None
        except requests.ConnectionError:
            logger.warning("weather upstream unreachable", extra={"attempt": attempt})
            if attempt == 2:
                raise BadGateway("The weather service could not be reached.") from None
        except requests.RequestException as error:
            logger.warning("weather upstream request failed", extra={"error": type(error).__name__})
            raise BadGateway("The weather service could not be reached.") from None
        else:
            if answer.status_code not in RETRY_STATUSES or attempt == 2:
                return answer
            logger.warning("weather upstream retry", extra={"status": answer.status_code})
        time.sleep(random.uniform(0.05, 0.25))  # noqa: S311 - jitter, not cryptography
    raise AssertionError("unreachable")  # pragma: no cover


def _weather(answer: requests.Response, units: str) -> Weather:
    status = answer.status_code
    if status == HTTPStatus.NOT_FOUND:
        raise NotFound("No city of that name is known to the weather service.")
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        retry_after = answer.headers.get("Retry-After", "60")
        raise ServiceUnavailable(
            "The weather service is rate limiting us; try again later.",
            headers={"Retry-After": retry_after if retry_after.isdigit() else "60"},
        )
    if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
        logger.error("weather upstream refused our key", extra={"status": status})  # ours to fix, not the caller's
        raise BadGateway("The weather service refused our request.")
    if status != HTTPStatus.OK:
        logger.warning("weather upstream error", extra={"status": status})
        raise BadGateway("The weather service failed.")
    try:
        upstream = _Upstream.model_validate_json(answer.content)
    except ValidationError:
        logger.warning("weather upstream answered nonsense")
        raise BadGateway("The weather service answered with something that is not weather.") from None
    return Weather(
        city=upstream.name,
        country=upstream.sys.country,
        temperature=upstream.main.temp,
        feels_like=upstream.main.feels_like,
        humidity=upstream.main.humidity,
        description=upstream.weather[0].description,
        wind_speed=upstream.wind.speed,
        observed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(upstream.dt)),
        units=units,  # type: ignore[arg-type]  # one of the Literal's values: WeatherQuery checked it
    )


@route(
    app,
    "GET",
    "/api/weather",
    summary="Current weather for a city",
    query=WeatherQuery,
    response=Weather,
    response_headers={"Cache-Control": SUCCESS_CACHE + " (errors: no-store)"},
    errors=(HTTPStatus.NOT_FOUND, HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.GATEWAY_TIMEOUT),
)
def get_weather(query: WeatherQuery) -> Response[str]:
    key = (query.city.casefold(), query.units)
    weather = cache.get(key)
    if weather is None:
        weather = _weather(_fetch(query), query.units)
        cache.put(key, weather)
    return json_response(weather, headers={"Cache-Control": SUCCESS_CACHE})


lambda_handler = make_handler(app)

"""A small fake of OpenWeatherMap's current-weather API: a real HTTP server on 127.0.0.1 (ephemeral port) for
GET /data/2.5/weather?q=<city>&units=<units>&appid=<key>.

What it does as OpenWeatherMap does (openweathermap.org/current, /faq#error401):
- `appid` must be the account's key; a missing or wrong one is a 401 `{"cod":401,"message":"Invalid API key. ..."}`
  (checked before anything else, programmed answers included, as a gateway in front of the API would).
- `q` is a city name, optionally `,<country code>`, matched without regard to case or Unicode normalization; a
  known city is a 200 with the full current-weather document (coord, weather[], main, wind, sys, dt, name, cod);
  an unknown one is a 404 `{"cod":"404","message":"city not found"}`; no `q` a 400 "Nothing to geocode".
- `units`: `metric` (Celsius, m/s), `imperial` (Fahrenheit, mph), anything else `standard` (Kelvin, m/s).

Tests program what comes next (`fail(503)`, `fail(429, retry_after="17")`, `garble()`, `delay(2.0)`,
`reset_connection()`, `truncate()`) and read what it received (`requests`: each with its raw query string as
sent, to check the encoding). A delayed answer is answered after the delay unless the fake stops first.
"""

from __future__ import annotations

import json
import socket
import struct
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackHandler, LoopbackServer

PATH = "/data/2.5/weather"
OBSERVED_AT = 1795860000  # 2026-11-28T10:00:00Z


@dataclass(frozen=True)
class City:
    name: str  # as OpenWeatherMap names it in its answer
    country: str
    kelvin: float
    feels_like_kelvin: float
    humidity: int
    description: str
    wind_mps: float
    lat: float
    lon: float
    city_id: int
    aliases: tuple[str, ...] = ()  # other names `q` may use (the local script, say)


DEFAULT_CITIES = (
    City("London", "GB", 284.35, 283.55, 81, "light rain", 4.1, 51.5085, -0.1257, 2643743),
    City("São Paulo", "BR", 298.15, 298.65, 60, "scattered clouds", 3.6, -23.5475, -46.6361, 3448439),
    City("Tokyo", "JP", 289.9, 289.2, 55, "clear sky", 2.57, 35.6895, 139.6917, 1850147, ("東京",)),
    City("New Delhi", "IN", 303.2, 305.1, 48, "haze", 1.54, 28.6358, 77.2245, 1261481, ("नई दिल्ली",)),
    City("N'Djamena", "TD", 309.4, 307.8, 12, "clear sky", 5.1, 12.1067, 15.0444, 2427123),
    City("St. John's", "CA", 276.6, 272.1, 87, "overcast clouds", 8.2, 47.5649, -52.7093, 6324733),
    City("New York", "US", 280.1, 277.9, 62, "few clouds", 5.66, 40.7143, -74.006, 5128581),
)


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold().strip()


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the fake received it."""

    method: str
    path: str  # without the query string
    raw_query: str  # exactly as it came on the request line
    headers: dict[str, str]  # names in lower case

    @property
    def params(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        values = self.params.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class _Programmed:
    status: int | None = None  # answer with this error instead
    retry_after: str | None = None
    delay: float = 0.0  # answer this much later
    garbled: bool = False  # a 200 whose body is not JSON
    reset: bool = False  # drop the connection (RST) without answering
    truncated: bool = False  # promise a whole answer, send its first bytes, close


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def owm_error(status: int, cod: int | str, message: str) -> _Answer:
    return _Answer(status, json.dumps({"cod": cod, "message": message}).encode())


def _proxy_error(status: int) -> _Answer:
    # What the load balancer in front of the API sends when the API behind it is down: HTML, not JSON.
    phrase = f"{status} {HTTPStatus(status).phrase}"
    page = f"<html>\r\n<head><title>{phrase}</title></head>\r\n<body>\r\n<center><h1>{phrase}</h1></center>\r\n"
    return _Answer(status, (page + "<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n").encode(), "text/html")


class FakeWeatherApi(LoopbackServer):
    def __init__(self, api_key: str, cities: tuple[City, ...] = DEFAULT_CITIES) -> None:
        super().__init__(_Handler)
        self.api_key = api_key
        self.cities = {_key(alias): city for city in cities for alias in (city.name, *city.aliases)}
        self._received: list[ReceivedRequest] = []
        self._programmed: deque[_Programmed] = deque()

    # --- lifecycle ----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The endpoint itself, as WEATHER_API_URL names it."""
        return self.origin + PATH

    # --- what tests program and read ----------------------------------------------------------------------

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests get this status: 401, 429 (with `retry_after`), 500, 502, 503, 504..."""
        self._program(_Programmed(status=status, retry_after=retry_after), times)

    def garble(self, times: int = 1) -> None:
        """The next `times` requests get a 200 whose body is cut off mid-JSON."""
        self._program(_Programmed(garbled=True), times)

    def delay(self, seconds: float, times: int = 1) -> None:
        """The next `times` requests are answered (normally) only after `seconds`."""
        self._program(_Programmed(delay=seconds), times)

    def reset_connection(self, times: int = 1) -> None:
        """The next `times` requests are read, then their connection is reset without an answer."""
        self._program(_Programmed(reset=True), times)

    def truncate(self, times: int = 1) -> None:
        """The next `times` requests get their answer's headers and first bytes, then the connection closes."""
        self._program(_Programmed(truncated=True), times)

    def _program(self, programmed: _Programmed, times: int) -> None:
        with self._lock:
            self._programmed.extend([programmed] * times)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def reset(self) -> None:
        """Forget what was received and programmed."""
        with self._lock:
            self._received.clear()
            self._programmed.clear()

    # --- the API ------------------------------------------------------------------------------------------

    def receive(self, method: str, target: str, headers: dict[str, str]) -> _Programmed:
        parts = urlsplit(target)
        with self._lock:
            self._received.append(ReceivedRequest(method, parts.path, parts.query, headers))
            programmed = self._programmed.popleft() if self._programmed else _Programmed()
        if programmed.delay:
            self._stopping.wait(programmed.delay)
        return programmed

    def answer(self, programmed: _Programmed, method: str, target: str) -> _Answer:
        parts = urlsplit(target)
        params = {name: values[0] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
        if params.get("appid") != self.api_key:
            return owm_error(
                HTTPStatus.UNAUTHORIZED,
                401,
                "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
            )
        if programmed.status is not None:
            return self._programmed_error(programmed)
        if programmed.garbled:
            return _Answer(HTTPStatus.OK, b'{"coord":{"lon":-0.1257,"lat":51.5085},"weather":[{"id":500,"ma')
        if (method, parts.path) != ("GET", PATH):
            return owm_error(HTTPStatus.NOT_FOUND, "404", "Internal error")
        query = params.get("q", "")
        if not query.strip():
            return owm_error(HTTPStatus.BAD_REQUEST, "400", "Nothing to geocode")
        name, _, country = query.partition(",")
        city = self.cities.get(_key(name))
        if city is None or (country.strip() and country.strip().upper() != city.country):
            return owm_error(HTTPStatus.NOT_FOUND, "404", "city not found")
        return _Answer(HTTPStatus.OK, json.dumps(self._current(city, params.get("units", "standard"))).encode())

    @staticmethod
    def _programmed_error(programmed: _Programmed) -> _Answer:
        status = programmed.status or HTTPStatus.INTERNAL_SERVER_ERROR
        if status == HTTPStatus.UNAUTHORIZED:
            return owm_error(status, 401, "Invalid API key. Please see https://openweathermap.org/faq#error401.")
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            answer = owm_error(
                status,
                429,
                "Your account is temporary blocked due to exceeding of requests limitation of your subscription "
                "type. Please choose the proper subscription https://openweathermap.org/price",
            )
            if programmed.retry_after is not None:
                answer.headers["Retry-After"] = programmed.retry_after
            return answer
        if status in (HTTPStatus.BAD_GATEWAY, HTTPStatus.SERVICE_UNAVAILABLE, HTTPStatus.GATEWAY_TIMEOUT):
            return _proxy_error(status)
        return owm_error(status, str(int(status)), "Internal error")

    @staticmethod
    def _current(city: City, units: str) -> dict[str, Any]:
        def temperature(kelvin: float) -> float:
            if units == "metric":
                return round(kelvin - 273.15, 2)
            if units == "imperial":
                return round((kelvin - 273.15) * 9 / 5 + 32, 2)
            return kelvin

        wind = round(city.wind_mps * 2.23694, 2) if units == "imperial" else city.wind_mps
        return {
            "coord": {"lon": city.lon, "lat": city.lat},
            "weather": [{"id": 800, "main": city.description.split()[-1].title(), "description": city.description}],
            "base": "stations",
            "main": {
                "temp": temperature(city.kelvin),
                "feels_like": temperature(city.feels_like_kelvin),
                "temp_min": temperature(city.kelvin - 1.1),
                "temp_max": temperature(city.kelvin + 1.2),
                "pressure": 1012,
                "humidity": city.humidity,
                "sea_level": 1012,
                "grnd_level": 1008,
            },
            "visibility": 10000,
            "wind": {"speed": wind, "deg": 240},
            "clouds": {"all": 40},
            "dt": OBSERVED_AT,
            "sys": {"type": 2, "id": 2075535, "country": city.country, "sunrise": 1795833000, "sunset": 1795864000},
            "timezone": 0,
            "id": city.city_id,
            "name": city.name,
            "cod": 200,
        }


class _Handler(LoopbackHandler):
    def respond(self, body: bytes, headers: dict[str, str]) -> None:
        fake: FakeWeatherApi = self.server.fake  # type: ignore[attr-defined]
        programmed = fake.receive(self.command, self.path, headers)
        if programmed.reset:
            # SO_LINGER 0: close() sends an RST, so the client reads "Connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        answer = fake.answer(programmed, self.command, self.path)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if programmed.truncated:
                self.wfile.write(answer.body[:40])
                self.close_connection = True
                return
            self.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (its timeout): nothing to answer to

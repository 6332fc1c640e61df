"""A fresh dev server for the contract run, in a project directory of its own.

The real template.yaml, functions and layers (symlinked), embedded moto and nothing persisted, so every session
starts from empty tables; secrets of its own (secrets.local.json there), so the run neither reads nor fills the
developer's; Stripe and the weather service are the loopback fakes in tests/fakes, so no request generated here
ever leaves the machine; --no-reload, so an edit elsewhere in the checkout cannot restart a function mid-run.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devserver.process import DevServerProcess
from devserver.template import load_app
from tests.conftest import TOKEN_KEYS
from tests.fakes.stripe_api import FakeStripe
from tests.fakes.weather_api import FakeWeatherApi

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
SECRETS = {
    "StripeApiKey": "sk_test_contract_" + "s" * 24,
    "StripeWebhookSecret": "whsec_contract_" + "w" * 32,
    "WeatherApiKey": "contract-weather-" + "k" * 16,
}
PRICE = "price_123"  # the price in POST /api/checkout's documented example: sold here, and known to the fake


def fuzz_user() -> dict[str, str]:
    """The credentials schemathesis logs in with (from its configuration, so they are written down once)."""
    login = tomllib.loads(CONFIG.read_text())["auth"]["dynamic"]["openapi"]["bearerAuth"]["payload"]
    return {"email": login["email"], "password": login["password"], "name": "Fuzz"}


def project(directory: Path) -> Path:
    directory.mkdir()
    (directory / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    for folder in ("functions", "layers"):
        (directory / folder).symlink_to(ROOT / folder, target_is_directory=True)
    ours = SECRETS | TOKEN_KEYS
    secrets = {name: ours.get(name, uuid.uuid4().hex) for name in load_app(directory / "template.yaml").secrets}
    (directory / "secrets.local.json").write_text(json.dumps(secrets))
    return directory / "template.yaml"


@pytest.fixture(scope="session")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServerProcess]:
    directory = tmp_path_factory.mktemp("contract")
    template = project(directory / "project")
    with (
        FakeStripe(SECRETS["StripeApiKey"], prices={PRICE: (1000, "eur")}) as stripe,
        FakeWeatherApi(SECRETS["WeatherApiKey"]) as weather,
    ):
        # Limits far above what the fuzzer sends, so it explores the routes rather than their 429 (still counted).
        overrides = (
            f"StripeApiBase={stripe.url} StripePriceIds={PRICE} WeatherApiUrl={weather.url} RateLimit=1000000/minute"
        )
        high_limits = str(Path(__file__).resolve().parents[1] / "integration" / "high-limits.json")
        server = DevServerProcess(
            template,
            directory / "devserver.log",
            *("--parameter-overrides", overrides, "--env-vars", high_limits, "--no-reload"),
        )
        try:
            response = requests.post(f"{server.url}/api/auth/signup", json=fuzz_user(), timeout=30)
            assert response.status_code == 201, response.text
            yield server
        finally:
            server.stop()

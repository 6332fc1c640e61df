"""apikit.secrets: one accessor for every Secrets Manager value, named by the variable holding the secret's ARN."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apikit.secrets import MissingSecretVariable, get_secret
from tests.conftest import STRIPE_API_KEY, _client


@pytest.fixture
def cache_seconds(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SECRET_CACHE_SECONDS=0: no value is kept, each read is Secrets Manager's answer of the moment."""
    from apikit.config import get_settings

    monkeypatch.setenv("SECRET_CACHE_SECONDS", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def put(value: str) -> None:
    _client("secretsmanager").put_secret_value(SecretId="StripeApiKey", SecretString=value)


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_a_variable_that_names_no_secret_is_a_template_mistake_naming_the_variable(aws, monkeypatch, value):
    if value is None:
        monkeypatch.delenv("STRIPE_API_KEY_ARN")
    else:
        monkeypatch.setenv("STRIPE_API_KEY_ARN", value)

    with pytest.raises(MissingSecretVariable) as raised:
        get_secret("STRIPE_API_KEY_ARN")

    assert str(raised.value) == "STRIPE_API_KEY_ARN is not set; the template sets it to the secret's ARN"


def test_a_value_pasted_with_spaces_or_a_line_break_around_it_is_read_without_them(aws):
    put(f"  {STRIPE_API_KEY}\r\n")

    assert get_secret("STRIPE_API_KEY_ARN") == STRIPE_API_KEY


def test_a_value_is_cached_for_secret_cache_seconds(aws):
    assert get_secret("STRIPE_API_KEY_ARN") == STRIPE_API_KEY
    put("sk_test_rotated")

    assert get_secret("STRIPE_API_KEY_ARN") == STRIPE_API_KEY  # within the 300 s the template sets
    assert get_secret("STRIPE_API_KEY_ARN", force_fetch=True) == "sk_test_rotated"  # a rotation seen at once
    assert get_secret("STRIPE_API_KEY_ARN") == "sk_test_rotated"  # and cached in its turn


def test_with_no_cache_period_every_read_asks_secrets_manager(aws, cache_seconds):
    assert get_secret("STRIPE_API_KEY_ARN") == STRIPE_API_KEY
    put("sk_test_rotated")

    assert get_secret("STRIPE_API_KEY_ARN") == "sk_test_rotated"

"""Secrets Manager values, named by the environment variable the template sets to the secret's ARN.

One accessor for every secret: `get_secret("STRIPE_API_KEY_ARN")`. Powertools Parameters caches each value for
SECRET_CACHE_SECONDS, so a warm container calls Secrets Manager once per period and a rotated secret is picked up
without a redeploy. Nothing here logs a value.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

from apikit import aws
from apikit.config import get_settings


class MissingSecretVariable(RuntimeError):
    """The function's environment does not name the secret: a template mistake, not a client's."""


@cache
def secrets_manager() -> Any:
    """The one Secrets Manager client of the execution environment (apikit.aws: timeouts, retries, deadline)."""
    return aws.client("secretsmanager")


def get_secret(variable: str, *, force_fetch: bool = False) -> str:
    """The secret's value; `force_fetch` skips the cache (after a rotation this container has not seen yet)."""
    secret_id = os.environ.get(variable)
    if not secret_id:
        raise MissingSecretVariable(f"{variable} is not set; the template sets it to the secret's ARN")
    max_age = get_settings().secret_cache_seconds
    # parameters.get_secret's provider, with the layer's client: registered where parameters.clear_caches()
    # finds it (and forgets it; then it is registered again). Powertools caches values, never a failure: after a
    # 503 the next invocation asks Secrets Manager again.
    if "secrets" not in DEFAULT_PROVIDERS:
        DEFAULT_PROVIDERS["secrets"] = parameters.SecretsProvider(boto3_client=secrets_manager())
    try:
        value = parameters.get_secret(secret_id, max_age=max_age, force_fetch=force_fetch)
    except GetParameterError as error:
        # Powertools raises it inside its `except`, without naming the cause: named here, apikit.aws.unavailable
        # tells a throttled or unreachable Secrets Manager (503) from a missing secret or a denied one (500).
        raise error from error.__context__
    # Stripped: a value pasted into `put-secret-value` easily ends with a newline, which breaks every HMAC.
    return value.strip()

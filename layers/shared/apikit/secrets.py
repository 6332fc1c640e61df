"""Secrets Manager values, named by the environment variable the template sets to the secret's ARN.

One accessor for every secret: `get_secret("STRIPE_API_KEY_ARN")`. Powertools Parameters caches each value for
SECRET_CACHE_SECONDS, so a warm container calls Secrets Manager once per period and a rotated secret is picked up
without a redeploy. Nothing here logs a value.
"""

from __future__ import annotations

import os

from aws_lambda_powertools.utilities import parameters

from apikit.config import get_settings


class MissingSecretVariable(RuntimeError):
    """The function's environment does not name the secret: a template mistake, not a client's."""


def get_secret(variable: str, *, force_fetch: bool = False) -> str:
    """The secret's value; `force_fetch` skips the cache (after a rotation this container has not seen yet)."""
    secret_id = os.environ.get(variable)
    if not secret_id:
        raise MissingSecretVariable(f"{variable} is not set; the template sets it to the secret's ARN")
    # Stripped: a value pasted into `put-secret-value` easily ends with a newline, which breaks every HMAC.
    max_age = get_settings().secret_cache_seconds
    return parameters.get_secret(secret_id, max_age=max_age, force_fetch=force_fetch).strip()

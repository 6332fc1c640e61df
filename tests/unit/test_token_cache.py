"""The verified-token cache must never outlive a token's expiry or a key rotation."""

from __future__ import annotations

import time

import boto3
import pytest

from apikit import keys
from tests.conftest import bearer, invoke, load_event


def me(authorization: str):
    return invoke("auth_me", load_event("auth_me/get.json", headers={"authorization": authorization}))


def test_a_cached_token_is_rejected_once_it_expires(aws, monkeypatch):
    from apikit import auth

    signup = invoke(
        "auth_signup",
        load_event("auth_signup/post.json", body={"email": "c@example.com", "password": "p" * 12 + "!", "name": "C"}),
    )
    token = f"Bearer {signup.json()['access_token']}"
    assert me(token).status == 200  # verified, and now cached

    later = time.time() + 16 * 60
    monkeypatch.setattr(auth.time, "time", lambda: later)

    assert me(token).status == 401


def test_a_cached_token_is_rejected_after_the_key_rotates(aws):
    from aws_lambda_powertools.utilities import parameters

    token = bearer("someone")
    assert invoke("posts_create", load_event("posts_create/post.json", headers={"authorization": token})).status == 201

    # Two rotations later the key that signed it is retired: not in the published set any more.
    newer = keys.with_public_key('{"keys": []}', keys.new_signing_key())
    newest = keys.with_public_key(newer, keys.new_signing_key())
    boto3.client("secretsmanager").put_secret_value(SecretId="JwtPublicKeys", SecretString=newest)
    parameters.clear_caches()  # as the secret cache's max_age running out would

    rejected = invoke("posts_create", load_event("posts_create/post.json", headers={"authorization": token}))
    assert rejected.status == 401


@pytest.mark.parametrize("tampered", ["x", "y"])
def test_a_rejected_token_stays_rejected(aws, tampered):
    token = bearer("someone") + tampered
    for _ in range(2):
        assert (
            invoke("posts_create", load_event("posts_create/post.json", headers={"authorization": token})).status == 401
        )

"""Secrets Manager's rotation function for JwtSigningKey: no HTTP route, invoked by Secrets Manager only.

Each rotation is four invocations with {"Step", "SecretId", "ClientRequestToken"}, as in AWS's rotation template
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html):

  createSecret  a new key pair (apikit.keys.new_signing_key) as the secret's AWSPENDING version
  setSecret     its public key published in JwtPublicKeys: newest first, the current key kept, the one before retired
  testSecret    a token signed with the pending key verifies against the key set as now published
  finishSecret  AWSCURRENT moves to the pending version: signup, login and refresh sign with it from their next read

The public key is published before the private key becomes current, so no verifier meets a token signed by a key
it was never told about. Secrets Manager retries a failed step, so each step is idempotent.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import jwt
from aws_lambda_powertools.utilities.typing import LambdaContext

from apikit import aws, keys
from apikit.auth import issue_access_token
from apikit.config import get_settings
from apikit.logging import logger

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"


@cache
def secrets_manager() -> Any:
    return aws.client("secretsmanager")  # created on first use: the module imports without any AWS settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, str], context: LambdaContext) -> None:
    secret_id, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    logger.append_keys(step=step, secret_id=secret_id, version=token)
    client = secrets_manager()
    metadata = client.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"rotation is not enabled for {secret_id}")
    stages = metadata.get("VersionIdsToStages", {}).get(token)
    if stages is None:
        raise ValueError(f"version {token} of {secret_id} has no stage for rotation")
    if CURRENT in stages:
        logger.info("This version is already current: nothing to do")
        return
    if PENDING not in stages:
        raise ValueError(f"version {token} of {secret_id} is not {PENDING}")
    if step not in STEPS:
        raise ValueError(f"unknown rotation step {step!r}")
    STEPS[step](client, secret_id, token)


def create_secret(client: Any, secret_id: str, token: str) -> None:
    client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)  # the secret exists (a placeholder at first)
    try:
        pending = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)["SecretString"]
        logger.info("createSecret: the pending key exists already", extra={"kid": json.loads(pending)["kid"]})
    except client.exceptions.ResourceNotFoundException:
        pending = keys.new_signing_key()
        client.put_secret_value(
            SecretId=secret_id, ClientRequestToken=token, SecretString=pending, VersionStages=[PENDING]
        )
        logger.info("createSecret: new signing key", extra={"kid": json.loads(pending)["kid"]})


def set_secret(client: Any, secret_id: str, token: str) -> None:
    pending = pending_key(client, secret_id, token)
    current = client.get_secret_value(SecretId=secret_id, VersionStage=CURRENT)["SecretString"]
    key_set = os.environ["JWT_PUBLIC_KEYS_ARN"]
    published = client.get_secret_value(SecretId=key_set)["SecretString"]
    # The current key first, whatever order an abandoned rotation left: it stays published beside the new one.
    kept = keys.with_public_key(published, current) if is_signing_key(current) else published
    updated = keys.with_public_key(kept, pending)
    if json.loads(updated) == json.loads(published):
        logger.info("setSecret: the pending key is published already")
        return
    client.put_secret_value(SecretId=key_set, SecretString=updated)
    logger.info("setSecret: published", extra={"kids": [key["kid"] for key in json.loads(updated)["keys"]]})


def test_secret(client: Any, secret_id: str, token: str) -> None:
    pending = pending_key(client, secret_id, token)
    kid = json.loads(pending)["kid"]
    published = json.loads(client.get_secret_value(SecretId=os.environ["JWT_PUBLIC_KEYS_ARN"])["SecretString"])
    jwk = next((key for key in published.get("keys", []) if key.get("kid") == kid), None)
    if jwk is None:
        raise ValueError(f"key {kid} is not in JwtPublicKeys: setSecret has not published it")
    settings = get_settings()
    signed = issue_access_token("jwt-rotation-test", signing_key=pending)  # as signup, login and refresh sign
    # Raises unless the published key verifies it; read directly, so no cached copy of the set can stand in for it.
    jwt.decode(
        signed,
        jwt.PyJWK(jwk, algorithm=keys.ALGORITHM).key,
        algorithms=[keys.ALGORITHM],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    logger.info("testSecret: a token signed with the pending key verifies", extra={"kid": kid})


def finish_secret(client: Any, secret_id: str, token: str) -> None:
    stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    current = next(version for version, labels in stages.items() if CURRENT in labels)
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage=CURRENT, MoveToVersionId=token, RemoveFromVersionId=current
    )
    client.update_secret_version_stage(SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=token)
    logger.info("finishSecret: the pending key is current", extra={"previous_version": current})


def pending_key(client: Any, secret_id: str, token: str) -> str:
    value: str = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage=PENDING)["SecretString"]
    return value


def is_signing_key(value: str) -> bool:
    """False for the placeholder the stack's first deploy generates, before the first rotation."""
    try:
        return "private_key" in json.loads(value)
    except (ValueError, TypeError):
        return False


STEPS = {
    "createSecret": create_secret,
    "setSecret": set_secret,
    "testSecret": test_secret,
    "finishSecret": finish_secret,
}

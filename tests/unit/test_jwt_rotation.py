"""functions/jwt_rotation against moto's Secrets Manager: the four steps Secrets Manager runs to rotate JwtSigningKey.

Each rotation here is what Secrets Manager does, as the dev server does it too (devserver.rotation.rotate):
RotateSecret, which leaves a pending version without a value (moto made to behave as AWS by
devserver.moto_process.rotation_fixes), then the handler once per step. Tokens are issued and verified with
apikit.auth, as signup and every bearer route do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import threading
import time
import uuid
from functools import cache
from http import HTTPStatus
from typing import Any

import boto3
import jwt
import pytest
from aws_lambda_powertools.utilities import parameters
from moto.secretsmanager.models import SecretsManagerBackend

from apikit import auth, keys
from apikit.errors import Unauthorized
from apikit.secrets import get_secret
from devserver.moto_process import rotation_fixes
from devserver.rotation import STEPS, rotate
from devserver.template import App, load_app
from devserver.worker import LambdaContext
from tests.conftest import ROOT, load_function

SIGNING_KEY, PUBLIC_KEYS = "JwtSigningKey", "JwtPublicKeys"


@cache
def template_app() -> App:
    return load_app(ROOT / "template.yaml")


@cache
def secretsmanager() -> Any:
    return boto3.client("secretsmanager")


@pytest.fixture
def rotation(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The rotation function's module, with moto rotating as AWS does and no recent key-set refresh in this process."""
    for name, method in rotation_fixes().items():
        monkeypatch.setattr(SecretsManagerBackend, name, method)
    monkeypatch.setattr(auth, "_last_refresh", 0.0)
    return load_function("jwt_rotation")


def run_step(module: Any, step: str, token: str) -> None:
    event = {"Step": step, "SecretId": SIGNING_KEY, "ClientRequestToken": token}
    module.lambda_handler(event, LambdaContext("JwtRotationFunction", 512, 10))


def start_rotation() -> str:
    """RotateSecret, as Secrets Manager starts a rotation: returns the pending version's id (the steps' token)."""
    started = secretsmanager().rotate_secret(
        SecretId=SIGNING_KEY,
        ClientRequestToken=str(uuid.uuid4()),
        RotationLambdaARN="arn:aws:lambda:us-east-1:123456789012:function:JwtRotationFunction",
        RotationRules={"AutomaticallyAfterDays": 90},
    )
    token: str = started["VersionId"]
    return token


def rotate_once(module: Any) -> None:
    app = template_app()
    context = LambdaContext("JwtRotationFunction", 512, 10)
    rotate(secretsmanager(), app, app.rotations[SIGNING_KEY], lambda event: module.lambda_handler(event, context))


def current(secret: str) -> str:
    value: str = secretsmanager().get_secret_value(SecretId=secret, VersionStage="AWSCURRENT")["SecretString"]
    return value


def kid_of(signing_key: str) -> str:
    kid: str = json.loads(signing_key)["kid"]
    return kid


def published_kids() -> list[str]:
    return [key["kid"] for key in json.loads(current(PUBLIC_KEYS))["keys"]]


def stages() -> dict[str, list[str]]:
    found: dict[str, list[str]] = secretsmanager().describe_secret(SecretId=SIGNING_KEY)["VersionIdsToStages"]
    return found


def state() -> tuple[str, str, dict[str, list[str]]]:
    return current(SIGNING_KEY), current(PUBLIC_KEYS), stages()


def test_the_template_rotates_the_signing_key_with_the_rotation_function():
    assert template_app().rotations[SIGNING_KEY].function == "JwtRotationFunction"


def test_a_rotation_makes_a_new_current_key_whose_tokens_verify_with_the_published_set(rotation):
    before = current(SIGNING_KEY)

    rotate_once(rotation)

    after = current(SIGNING_KEY)
    assert kid_of(after) != kid_of(before)
    assert published_kids() == [kid_of(after), kid_of(before)]
    assert sorted(map(sorted, stages().values())) == [["AWSCURRENT"], ["AWSPREVIOUS"]]  # no AWSPENDING left
    parameters.clear_caches()  # the functions' cached copies have expired
    token = auth.issue_access_token("alice")  # reads the current key, as signup does
    assert jwt.get_unverified_header(token)["kid"] == kid_of(after)
    assert auth.verify_access_token(token).user_id == "alice"


def test_every_step_is_idempotent(rotation):
    token = start_rotation()

    for step in STEPS:
        run_step(rotation, step, token)
        once = state()
        run_step(rotation, step, token)  # Secrets Manager retries a step whose answer it did not get
        assert state() == once, step

    signing_key, key_set, _ = state()
    assert published_kids()[0] == kid_of(signing_key)
    for step in STEPS:  # the whole rotation again, once it is finished: nothing changes
        run_step(rotation, step, token)
    assert state()[:2] == (signing_key, key_set)


def test_two_rotations_keep_the_newest_two_keys_and_the_retired_keys_tokens_are_refused(rotation):
    first = current(SIGNING_KEY)
    retired_token = auth.issue_access_token("alice", signing_key=first)
    rotate_once(rotation)
    second = current(SIGNING_KEY)
    previous_token = auth.issue_access_token("bob", signing_key=second)

    rotate_once(rotation)

    newest = current(SIGNING_KEY)
    assert published_kids() == [kid_of(newest), kid_of(second)]
    parameters.clear_caches()
    assert auth.verify_access_token(previous_token).user_id == "bob"  # signed just before: valid until it expires
    assert auth.verify_access_token(auth.issue_access_token("carol")).user_id == "carol"
    with pytest.raises(Unauthorized) as refused:
        auth.verify_access_token(retired_token)
    assert refused.value.status == HTTPStatus.UNAUTHORIZED


def test_the_public_key_is_published_before_the_private_key_becomes_current(rotation):
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        if model.name in ("PutSecretValue", "UpdateSecretVersionStage"):
            calls.append((model.name, f"{params['SecretId']} {params.get('VersionStage', '')}".strip()))

    rotation.secrets_manager().meta.events.register("provide-client-params.secrets-manager.*", record)
    try:
        token = start_rotation()
        for step in STEPS:
            run_step(rotation, step, token)
            # At every point of the rotation, the key that signs is one the verifiers are told about.
            assert kid_of(current(SIGNING_KEY)) in published_kids(), step
    finally:
        rotation.secrets_manager().meta.events.unregister("provide-client-params.secrets-manager.*", record)

    assert calls == [
        ("PutSecretValue", SIGNING_KEY),  # createSecret: the pending key
        ("PutSecretValue", PUBLIC_KEYS),  # setSecret: its public key, published
        ("UpdateSecretVersionStage", f"{SIGNING_KEY} AWSCURRENT"),  # finishSecret: then, and only then, current
        ("UpdateSecretVersionStage", f"{SIGNING_KEY} AWSPENDING"),
    ]


def test_a_rotation_while_tokens_are_issued_and_verified_refuses_no_token(rotation):
    """Issuers read the signing key afresh each time (a container whose cached copy just expired); verifiers cached
    the key set before the rotation and meet the new key's kid before their copy expires: they refetch it once
    (apikit.auth, at most every UNKNOWN_KID_REFRESH_SECONDS) instead of refusing the token."""
    old_kid = kid_of(current(SIGNING_KEY))
    auth.verify_access_token(auth.issue_access_token("warm-up"))  # the verifiers' copy of the set, soon stale
    issued: queue.Queue[str] = queue.Queue()
    verified: list[str] = []
    refused: list[str] = []
    stop = threading.Event()
    # One request at a time per container, as Lambda runs them: the verifier threads share this process's caches,
    # so they take turns, as the requests of one warm container do.
    container = threading.Lock()

    def issue(user: str) -> None:
        while not stop.is_set():
            issued.put(auth.issue_access_token(user, signing_key=get_secret("JWT_SIGNING_KEY_ARN", force_fetch=True)))
            time.sleep(0.001)

    def verify() -> None:
        while not stop.is_set() or not issued.empty():
            try:
                token = issued.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                with container:
                    auth.verify_access_token(token)
                verified.append(jwt.get_unverified_header(token)["kid"])
            except Unauthorized:
                refused.append(jwt.get_unverified_header(token)["kid"])

    threads = [threading.Thread(target=issue, args=(f"user-{n}",)) for n in range(3)]
    threads += [threading.Thread(target=verify) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        rotate_once(rotation)
        new_kid = kid_of(current(SIGNING_KEY))
        time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert refused == []
    assert {old_kid, new_kid} <= set(verified)


# --- apikit.keys: the values a rotation writes ----------------------------------------------------------------------


def private_pem(signing_key: str) -> str:
    pem: str = json.loads(signing_key)["private_key"]
    return pem


def test_a_published_key_is_the_public_p256_jwk_named_by_its_rfc_7638_thumbprint():
    signing_key = keys.new_signing_key()

    (jwk,) = json.loads(keys.with_public_key('{"keys": []}', signing_key))["keys"]

    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # no private part ("d")
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    required = json.dumps({name: jwk[name] for name in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(required.encode()).digest()).decode().rstrip("=")
    assert jwk["kid"] == thumbprint == kid_of(signing_key)
    token = jwt.encode({"sub": "alice"}, private_pem(signing_key), algorithm="ES256")
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["ES256"])["sub"] == "alice"


def _pem_of(private: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _p384() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP384R1())


def _ed25519() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate()


@pytest.mark.parametrize("generate", [_p384, _ed25519], ids=["ec-p384", "ed25519"])
def test_a_signing_key_that_is_not_ec_p256_is_refused(generate):
    with pytest.raises(ValueError, match=r"^the signing key must be an EC P-256 key$"):
        keys.public_jwk(_pem_of(generate()))


@pytest.mark.parametrize(
    "placeholder",
    ["", "placeholder", "[]", "{}", '{"keys": ["x", 1, null, []]}'],
    ids=["empty", "not-json", "a-list", "no-keys", "keys-that-are-no-jwk"],
)
def test_the_first_publication_replaces_whatever_the_key_set_held_that_is_no_key(placeholder):
    signing_key = keys.new_signing_key()

    published = json.loads(keys.with_public_key(placeholder, signing_key))

    assert published == {"keys": [keys.public_jwk(private_pem(signing_key))]}


def test_publishing_a_key_again_keeps_it_once_newest_first_with_the_one_before():
    first, second = keys.new_signing_key(), keys.new_signing_key()
    both = keys.with_public_key(keys.with_public_key('{"keys": []}', first), second)

    again = json.loads(keys.with_public_key(both, second))["keys"]

    assert [key["kid"] for key in again] == [kid_of(second), kid_of(first)]
    assert [key["kid"] for key in json.loads(keys.with_public_key(both, first))["keys"]] == [
        kid_of(first),
        kid_of(second),
    ]

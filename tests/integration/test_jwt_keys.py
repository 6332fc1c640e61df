"""The access tokens' keys on the real dev server: made on the first start, as the stack's first deploy makes them.

AWS rotates JwtSigningKey as soon as its RotationSchedule exists; the dev server does the same when it creates the
secret for the first time, running functions/jwt_rotation's four steps in its worker, and keeps the keys in
secrets.local.json so that restarts reuse them. Each test serves a copy of template.yaml in a project directory of
its own (functions and layers symlinked), so the developer's secrets.local.json is never read or written.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.integration.conftest import ROOT, DevServer

pytestmark = pytest.mark.devserver_only(reason="dev servers of its own, their secrets.local.json and moto")

ROTATED = "Rotating JwtSigningKey with JwtRotationFunction"


def project_copy(directory: Path, secrets: dict[str, str] | None = None) -> Path:
    directory.mkdir()
    (directory / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    for folder in ("functions", "layers"):
        (directory / folder).symlink_to(ROOT / folder, target_is_directory=True)
    if secrets is not None:
        (directory / "secrets.local.json").write_text(json.dumps(secrets))
    return directory / "template.yaml"


def local_secrets(template: Path) -> dict[str, str]:
    values: dict[str, str] = json.loads((template.parent / "secrets.local.json").read_text())
    return values


def devserver_token(template: Path, user_id: str) -> subprocess.CompletedProcess[str]:
    """`python -m devserver token USER_ID`, as `make token` runs it, for this project."""
    return subprocess.run(
        [sys.executable, "-m", "devserver", "token", user_id, "--template", str(template)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def signup(server: DevServer, email: str) -> dict[str, Any]:
    answer = server.request(
        "POST", "/api/auth/signup", json={"email": email, "password": "correct horse battery", "name": "Alice"}
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def me(server: DevServer, token: str) -> Any:
    return server.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_the_first_start_makes_the_keys_devserver_token_signs_with_them_and_a_restart_keeps_them(
    tmp_path: Path, start_server: Any
) -> None:
    # A secrets.local.json from before the ES256 keys: the HS256 JwtSecret, and no JwtSigningKey or JwtPublicKeys.
    template = project_copy(tmp_path / "project", {"JwtSecret": "an-hs256-key-" + "h" * 40})
    persist = ["--persist", str(tmp_path / "data"), "--no-reload"]

    server = start_server(template, *persist)

    assert ROTATED in server.output()
    made = local_secrets(template)
    signing_key = json.loads(made["JwtSigningKey"])
    assert "BEGIN PRIVATE KEY" in signing_key["private_key"]
    assert [key["kid"] for key in json.loads(made["JwtPublicKeys"])["keys"]] == [signing_key["kid"]]
    assert made["JwtSecret"].startswith("an-hs256-key-")  # the old entry is left alone
    user = signup(server, "alice@example.com")
    assert jwt.get_unverified_header(user["access_token"])["kid"] == signing_key["kid"]
    assert me(server, user["access_token"]).json()["id"] == user["user"]["id"]
    minted = devserver_token(template, user["user"]["id"])
    assert minted.returncode == 0, minted.stderr
    from_cli = minted.stdout.strip()
    assert jwt.get_unverified_header(from_cli)["kid"] == signing_key["kid"]
    assert me(server, from_cli).json()["email"] == "alice@example.com"
    assert server.stop() == 0

    again = start_server(template, *persist)  # --persist: the user is still there

    assert ROTATED not in again.output()
    assert local_secrets(template) == made
    for token in (user["access_token"], from_cli):
        answer = me(again, token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["id"] == user["user"]["id"]


def test_devserver_token_before_the_dev_server_ever_ran_makes_the_keys_the_dev_server_then_uses(
    tmp_path: Path, start_server: Any
) -> None:
    template = project_copy(tmp_path / "project")  # no secrets.local.json at all

    minted = devserver_token(template, "alice")

    assert minted.returncode == 0, minted.stderr
    kid = jwt.get_unverified_header(minted.stdout.strip())["kid"]
    assert json.loads(local_secrets(template)["JwtSigningKey"])["kid"] == kid
    server = start_server(template, "--no-reload")
    assert ROTATED not in server.output()
    user = signup(server, "bob@example.com")
    assert jwt.get_unverified_header(user["access_token"])["kid"] == kid
    for_bob = devserver_token(template, user["user"]["id"])
    assert ROTATED not in for_bob.stderr  # the keys exist now: nothing to make
    assert me(server, for_bob.stdout.strip()).json()["email"] == "bob@example.com"


@pytest.mark.parametrize("broken", ["JwtSigningKey", "JwtPublicKeys"])
def test_a_key_missing_from_secrets_local_json_is_made_again_with_its_pair(
    tmp_path: Path, start_server: Any, broken: str
) -> None:
    template = project_copy(tmp_path / "project")
    first = start_server(template, "--no-reload")
    first.stop()
    kept = local_secrets(template)
    (template.parent / "secrets.local.json").write_text(json.dumps({**kept, broken: ""}))

    server = start_server(template, "--no-reload")

    assert ROTATED in server.output()
    now = local_secrets(template)
    signing_kid, old_kid = json.loads(now["JwtSigningKey"])["kid"], json.loads(kept["JwtSigningKey"])["kid"]
    assert signing_kid != old_kid
    # Either way the set is the new key and the one before it: a token signed with the old key stays valid.
    assert [key["kid"] for key in json.loads(now["JwtPublicKeys"])["keys"]] == [signing_kid, old_kid]
    user = signup(server, "carol@example.com")
    assert me(server, user["access_token"]).status_code == 200


# Any rotation, not only the keys': a toy rotation function of the small test project's own.
ROTATOR = """
import boto3

FAIL_AT = "testSecret"
secretsmanager = boto3.client("secretsmanager")


def lambda_handler(event, context):
    step, arn, token = event["Step"], event["SecretId"], event["ClientRequestToken"]
    if step == FAIL_AT:
        raise RuntimeError(step + " fails")
    if step == "createSecret":
        pending = {"ClientRequestToken": token, "VersionStages": ["AWSPENDING"]}
        secretsmanager.put_secret_value(SecretId=arn, SecretString="rotated-" + token, **pending)
    if step == "finishSecret":
        stages = secretsmanager.describe_secret(SecretId=arn)["VersionIdsToStages"]
        current = next(version for version, labels in stages.items() if "AWSCURRENT" in labels)
        moved = {"MoveToVersionId": token, "RemoveFromVersionId": current}
        secretsmanager.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", **moved)
"""
ROTATED_PASSWORD = """
  Password:
    Type: AWS::SecretsManager::Secret
    Properties: {GenerateSecretString: {}}
  PasswordRotation:
    Type: AWS::SecretsManager::RotationSchedule
    Properties:
      SecretId: !Ref Password
      RotationLambdaARN: !GetAtt RotatorFunction.Arn
      RotationRules: {AutomaticallyAfterDays: 30}
  RotatorFunction:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/rotator/}
"""


def test_a_failed_rotation_stops_the_start_forgets_the_new_value_and_runs_again_on_the_next_start(
    project: Path, start_server: Any
) -> None:
    (project / "functions" / "rotator").mkdir()
    (project / "functions" / "rotator" / "app.py").write_text(ROTATOR)
    template = project / "template.yaml"
    template.write_text(template.read_text() + ROTATED_PASSWORD)
    start = [sys.executable, "-m", "devserver", "--template", str(template), "--port", "0", "--no-reload"]

    failed = subprocess.run(start, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)

    assert failed.returncode == 1
    assert "error: RotatorFunction failed its testSecret step (error): see its log above" in failed.stderr
    assert "RuntimeError: testSecret fails" in failed.stdout + failed.stderr
    assert "Password" not in local_secrets(template)  # so that the next start makes it and rotates it again
    (project / "functions" / "rotator" / "app.py").write_text(ROTATOR.replace('FAIL_AT = "testSecret"', "FAIL_AT = ''"))

    server = start_server(template, "--no-reload")

    assert "Rotating Password with RotatorFunction" in server.output()
    assert local_secrets(template)["Password"].startswith("rotated-")


def test_a_schedule_added_while_the_dev_server_runs_rotates_its_new_secret_on_the_reload(
    project: Path, start_server: Any
) -> None:
    template = project / "template.yaml"
    server = start_server(template)
    (project / "functions" / "rotator").mkdir()
    (project / "functions" / "rotator" / "app.py").write_text(ROTATOR.replace('FAIL_AT = "testSecret"', "FAIL_AT = ''"))

    template.write_text(template.read_text() + ROTATED_PASSWORD)

    deadline = time.monotonic() + 60
    while "Password" not in local_secrets(template) or "Rotating Password" not in server.output():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)
    while not local_secrets(template)["Password"].startswith("rotated-"):
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.1)

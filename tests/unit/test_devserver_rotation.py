"""The dev server's side of a rotation: which schedules it runs, when, and the local secret values around it.

AWS rotates a secret as soon as a RotationSchedule for it is created; the dev server runs the same rotation the first
time it creates the secret (devserver.rotation). The rotation itself, against moto, is in test_jwt_rotation.py and,
through the real dev server, in tests/integration/test_jwt_keys.py.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from devserver.aws import secret_values, unset_secrets, update_secret_values
from devserver.cli import main
from devserver.rotation import rotations_due
from devserver.template import App, load_app

TEMPLATE = """
Conditions:
  Never: !Equals [a, b]
Resources:
  Key:
    Type: AWS::SecretsManager::Secret
    Properties: {GenerateSecretString: {PasswordLength: 32}}
  Published:
    Type: AWS::SecretsManager::Secret
    Properties: {SecretString: '{"keys": []}'}
  Other:
    Type: AWS::SecretsManager::Secret
    Properties: {GenerateSecretString: {}}
  KeyRotation:
    Type: AWS::SecretsManager::RotationSchedule
    Properties:
      SecretId: !Ref Key
      RotationLambdaARN: !GetAtt Rotator.Arn
      RotateImmediatelyOnUpdate: true
      RotationRules: {AutomaticallyAfterDays: 30}
  OtherRotation:  # rotated by a function that is not in this template: nothing to run locally
    Type: AWS::SecretsManager::RotationSchedule
    Properties:
      SecretId: !Ref Other
      RotationLambdaARN: arn:aws:lambda:us-east-1:123456789012:function:elsewhere
  Rotator:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Environment: {Variables: {PUBLISHED_ARN: !Ref Published, SIGNS_WITH: !Ref Key}}
"""


def app_of(directory: Path, text: str = TEMPLATE) -> App:
    (directory / "template.yaml").write_text(textwrap.dedent(text))
    return load_app(directory / "template.yaml")


def test_a_schedule_rotated_by_a_function_of_the_template_is_one_the_dev_server_runs(tmp_path):
    app = app_of(tmp_path)

    assert list(app.rotations) == ["Key"]
    rotation = app.rotations["Key"]
    assert (rotation.function, rotation.rules) == ("Rotator", {"AutomaticallyAfterDays": 30})


NOT_AT_ONCE = TEMPLATE.replace("RotateImmediatelyOnUpdate: true", "RotateImmediatelyOnUpdate: false")  # AWS waits too
CONDITIONAL = TEMPLATE.replace(
    "  KeyRotation:\n    Type: AWS::SecretsManager::RotationSchedule\n",
    "  KeyRotation:\n    Type: AWS::SecretsManager::RotationSchedule\n    Condition: Never\n",
)


@pytest.mark.parametrize("text", [NOT_AT_ONCE, CONDITIONAL], ids=["not-at-once", "condition-false"])
def test_a_schedule_aws_would_not_run_at_creation_is_not_run(tmp_path, text):
    assert text != TEMPLATE
    assert app_of(tmp_path, text).rotations == {}


def test_a_rotation_is_due_when_its_secret_or_a_secret_its_function_reads_was_just_created(tmp_path):
    app = app_of(tmp_path)

    assert [rotation.secret for rotation in rotations_due(app, {"Key"})] == ["Key"]
    assert [rotation.secret for rotation in rotations_due(app, {"Published"})] == ["Key"]  # its pair, remade
    assert rotations_due(app, {"Other"}) == []
    assert rotations_due(app, set()) == []  # a restart: nothing to rotate


def test_secrets_without_a_value_get_the_templates_own_and_count_as_just_created(tmp_path):
    app = app_of(tmp_path)
    (tmp_path / "secrets.local.json").write_text(json.dumps({"Key": "", "Other": "kept"}))

    assert unset_secrets(app, tmp_path) == {"Key", "Published"}
    values = secret_values(app, tmp_path)

    assert values["Published"] == '{"keys": []}'  # the template's SecretString
    assert len(values["Key"]) >= 32  # generated, as an empty example value is
    assert values["Other"] == "kept"
    assert unset_secrets(app, tmp_path) == set()
    assert json.loads((tmp_path / "secrets.local.json").read_text()) == values
    assert (tmp_path / "secrets.local.json").stat().st_mode & 0o777 == 0o600


def test_values_written_back_replace_only_theirs_and_none_forgets_one(tmp_path):
    (tmp_path / "secrets.local.json").write_text(json.dumps({"Key": "old", "Published": "old", "Other": "kept"}))

    update_secret_values(tmp_path, {"Key": "new", "Published": None})

    assert json.loads((tmp_path / "secrets.local.json").read_text()) == {"Key": "new", "Other": "kept"}


def test_devserver_token_with_a_placeholder_key_says_what_to_do(tmp_path, capsys):
    template = """
    Resources:
      JwtSigningKey: {Type: AWS::SecretsManager::Secret, Properties: {GenerateSecretString: {}}}
      Signer:
        Type: AWS::Serverless::Function
        Properties: {CodeUri: ., Environment: {Variables: {JWT_SIGNING_KEY_ARN: !Ref JwtSigningKey}}}
    """
    app_of(tmp_path, template)
    (tmp_path / "secrets.local.json").write_text(json.dumps({"JwtSigningKey": "a-placeholder-from-before"}))

    with pytest.raises(SystemExit, match=r"JwtSigningKey in secrets\.local\.json is not a signing key: .*make dev"):
        main(["token", "alice", "--template", str(tmp_path / "template.yaml")])

"""Secrets Manager's rotation of a secret, locally: what AWS does for RotateSecret, then the function's four steps.

On AWS, creating an AWS::SecretsManager::RotationSchedule (RotateImmediatelyOnUpdate) rotates its secret at once:
that is how the stack's first deploy turns JwtSigningKey's placeholder into a key. `sam local` never rotates. The
dev server does it when it creates such a secret for the first time (secrets.local.json had no value for it, or for
a secret its rotation function reads): RotateSecret against the local Secrets Manager (moto, see
devserver.moto_process), then createSecret, setSecret, testSecret and finishSecret, each one invocation of the
function's Lambda-shaped worker, as Secrets Manager invokes them. The resulting values go back into
secrets.local.json, so later starts find them there and rotate nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from devserver.template import ACCOUNT_ID, App, Rotation

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class RotationError(RuntimeError):
    """A rotation step failed: the function's own log, above, says why."""


def rotations_due(app: App, created: set[str]) -> list[Rotation]:
    """The rotations AWS would have run on creating these secrets: of a created secret, or by a function that reads
    one (the new key set of a key it did not rotate would publish no key at all)."""
    due = []
    for rotation in app.rotations.values():
        reads = set(app.functions[rotation.function].environment.values()) & set(app.secrets)
        if {rotation.secret, *reads} & created:
            due.append(rotation)
    return due


def rotate(
    secretsmanager: Any, app: App, rotation: Rotation, invoke: Callable[[dict[str, str]], None]
) -> dict[str, Any]:
    """Rotate `rotation.secret` once: RotateSecret (a pending version, rotation on), then each step through `invoke`,
    which raises if the step failed. Returns RotateSecret's answer (ARN, VersionId)."""
    function = app.functions[rotation.function]
    rules = {key: int(value) if key == "AutomaticallyAfterDays" else value for key, value in rotation.rules.items()}
    started: dict[str, Any] = secretsmanager.rotate_secret(
        SecretId=rotation.secret,
        ClientRequestToken=str(uuid.uuid4()),
        RotationLambdaARN=f"arn:aws:lambda:{app.region}:{ACCOUNT_ID}:function:{function.name}",
        RotationRules=rules,
    )
    for step in STEPS:
        invoke({"Step": step, "SecretId": started["ARN"], "ClientRequestToken": started["VersionId"]})
    return started

"""moto's server in its own process (its own GIL), quiet: `python -m devserver.moto_process PORT`."""

import functools
import json
import logging
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from moto.core.common_models import BaseModel
from moto.dynamodb.models import DynamoDBBackend
from moto.secretsmanager.models import SecretsManagerBackend
from moto.server import ThreadedMotoServer

from devserver.worker import exit_without_teardown


def atomic_dynamodb_writes() -> None:
    """DynamoDB applies each write to an item atomically: `ADD hits :one` from two clients at once counts two, and
    two conditional writes never both pass. moto reads, changes and stores an item without a lock, and its server
    answers on many threads, so concurrent writes could lose an update here that AWS never loses. One lock for
    every write makes them atomic, as on AWS (reads stay concurrent).
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.AtomicCounters
    """
    lock = threading.RLock()  # reentrant: a transaction applies its puts and updates through the same methods

    def locked(write: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(write)
        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return write(*args, **kwargs)

        return call

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
        setattr(DynamoDBBackend, name, locked(getattr(DynamoDBBackend, name)))


def untracked_models() -> None:
    """moto appends every model object it ever creates to a class-wide list (`instances_tracked`), kept for
    `moto.core.model_instances.reset_model_data` when a mock stops, which this long-running server never calls. So
    nothing it creates is ever freed: every item a write replaces, the copy of each item UpdateItem makes, and the
    deep copy of the whole table TransactWriteItems makes before every transaction (the refresh of a session is
    one). `make soak` measured moto growing by about 40 MiB per thousand requests; a thousand transactions on a
    50-item table kept 400 MiB. AWS keeps nothing of the sort: objects here are freed when nothing refers to them."""

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    BaseModel.__new__ = staticmethod(new)  # type: ignore[method-assign]


def rotation_fixes() -> dict[str, Callable[..., Any]]:
    """Two methods of moto's Secrets Manager (5.2.5) as AWS behaves, for rotations (devserver.rotation):

    - RotateSecret with a RotationLambdaARN does Secrets Manager's part only: rotation on, and a new version labelled
      AWSPENDING that has no value yet, which is what AWS leaves before it invokes the function. moto would invoke
      its own Lambda (in Docker); the dev server invokes the function's four steps in its workers instead.
    - After UpdateSecretVersionStage moves AWSCURRENT, GetSecretValue without a stage answers the new current
      version (moto kept answering the one current before).
    """
    rotate, update = SecretsManagerBackend.rotate_secret, SecretsManagerBackend.update_secret_version_stage

    def rotate_secret(
        self: Any,
        secret_id: str,
        client_request_token: str | None = None,
        rotation_lambda_arn: str | None = None,
        rotation_rules: dict[str, Any] | None = None,
        rotate_immediately: bool = True,
    ) -> str:
        if not rotation_lambda_arn:
            return str(rotate(self, secret_id, client_request_token, None, rotation_rules, rotate_immediately))
        secret = self.describe_secret(secret_id)
        version = client_request_token or str(uuid.uuid4())
        secret.remove_version_stages_from_old_versions(["AWSPENDING"])
        secret.versions[version] = {
            "createdate": int(time.time()),
            "version_id": version,
            "version_stages": ["AWSPENDING"],
        }
        secret.rotation_requested = secret.rotation_enabled = True
        secret.rotation_lambda_arn = rotation_lambda_arn
        secret.auto_rotate_after_days = int((rotation_rules or {}).get("AutomaticallyAfterDays", 0))
        secret.last_rotation_date = int(time.time())
        return json.dumps({"ARN": secret.arn, "Name": secret.name, "VersionId": version})

    def update_secret_version_stage(
        self: Any, secret_id: str, version_stage: str, remove_from_version_id: str, move_to_version_id: str
    ) -> tuple[str, str]:
        result: tuple[str, str] = update(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return result

    return {"rotate_secret": rotate_secret, "update_secret_version_stage": update_secret_version_stage}


def main() -> None:
    # Ctrl-C in the terminal reaches the whole process group: the dev server stops us by closing our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call costs a ms
    atomic_dynamodb_writes()
    untracked_models()
    for name, method in rotation_fixes().items():
        setattr(SecretsManagerBackend, name, method)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
    server.start()
    print("ready", flush=True)
    sys.stdin.read()  # runs until the dev server closes our stdin (or dies, which closes it too)
    # Then out at once: no server.stop() (werkzeug's shutdown waits for its 0.5 s poll; the port is freed with the
    # process), and no teardown of moto's many modules.
    exit_without_teardown(0)


if __name__ == "__main__":
    main()

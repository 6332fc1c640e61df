"""Embedded AWS for the dev server: moto's server on a free port, with the template's tables, buckets and
secrets created in it, and optional persistence of data across restarts."""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from devserver.runtime import DUMMY_CREDENTIALS
from devserver.template import App, create_tables


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoServer:
    """moto in a child process: started on a free port, stopped (and its port freed) by `stop`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devserver.moto_process", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            self.stop()
            raise RuntimeError("moto's server did not start")
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"moto's server is not listening on {self.port}")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(timeout=5)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.process.kill()
                self.process.wait()


class LocalAws:
    """Creates and persists what template.yaml declares, against moto or any endpoint (e.g. DynamoDB Local)."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        session = boto3.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=region,
        )
        # Bounded, so an endpoint that never answers (a fault being tried out with --aws-endpoint) delays the start
        # by seconds, not botocore's default of minutes.
        config = Config(retries={"total_max_attempts": 2}, connect_timeout=2, read_timeout=5)
        self.dynamodb = session.client("dynamodb", endpoint_url=endpoint, config=config)
        self.s3 = session.client("s3", endpoint_url=endpoint, config=config)
        self.secretsmanager = session.client("secretsmanager", endpoint_url=endpoint, config=config)
        self._snapshot_lock = threading.Lock()
        self._object_cache: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {}

    def create_resources(self, app: App, secret_values: dict[str, str]) -> None:
        existing = set(self.dynamodb.list_tables().get("TableNames", []))
        create_tables(self.dynamodb, {name: spec for name, spec in app.tables.items() if name not in existing})
        buckets = {bucket["Name"] for bucket in self.s3.list_buckets().get("Buckets", [])}
        for name in app.buckets.values():
            if name not in buckets:
                self.s3.create_bucket(Bucket=name)
            if name in app.bucket_cors:  # moto answers preflights and adds CORS headers from it, as S3 does
                self.s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": app.bucket_cors[name]})
        for logical_id in app.secrets:
            value = secret_values.get(logical_id, "")
            try:
                self.secretsmanager.create_secret(Name=logical_id, SecretString=value)
            except self.secretsmanager.exceptions.ResourceExistsException:
                self.secretsmanager.put_secret_value(SecretId=logical_id, SecretString=value)

    def current_secret_values(self, app: App) -> dict[str, str]:
        """Every secret's AWSCURRENT value, as the functions read them (after a rotation: the new ones)."""
        return {
            logical_id: self.secretsmanager.get_secret_value(SecretId=logical_id, VersionStage="AWSCURRENT")[
                "SecretString"
            ]
            for logical_id in app.secrets
        }

    # --- persistence: a JSON snapshot of every table and bucket ---------------------------------------------

    def snapshot(self, app: App, directory: Path) -> None:
        """Every table and bucket, in DIR/snapshot.json, durably: written to a temporary file, fsynced, renamed over
        the old one and the directory fsynced, so a crash at any point leaves the old snapshot or the new one, whole.
        Thread-safe (the group commit and the final save at shutdown may overlap)."""
        with self._snapshot_lock:
            data: dict[str, Any] = {"format": SNAPSHOT_FORMAT, "tables": {}, "buckets": {}}
            for table in app.tables:
                items: list[dict[str, Any]] = []
                for page in self.dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                    items.extend(page.get("Items", []))
                data["tables"][table] = [wire_item(item) for item in items]
            for name in app.buckets.values():
                data["buckets"][name] = self._objects(name)
            directory.mkdir(parents=True, exist_ok=True)
            temporary = directory / "snapshot.json.tmp"
            with temporary.open("w") as file:
                json.dump(data, file)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(directory / "snapshot.json")
            descriptor = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(descriptor)  # the rename itself, on file systems that need it
            finally:
                os.close(descriptor)

    def _objects(self, bucket: str) -> dict[str, Any]:
        """A bucket's objects as saved; one read per object that is new or changed since the previous snapshot (by
        ETag, modification time and size), so a snapshot after every write does not download every file again."""
        cache = self._object_cache.setdefault(bucket, {})
        objects, seen = {}, set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                key, version = entry["Key"], (entry.get("ETag"), str(entry.get("LastModified")), entry.get("Size"))
                seen.add(key)
                if key not in cache or cache[key][0] != version:
                    stored = self.s3.get_object(Bucket=bucket, Key=key)
                    cache[key] = (
                        version,
                        {
                            "body": base64.b64encode(stored["Body"].read()).decode(),
                            "content_type": stored.get("ContentType", "application/octet-stream"),
                            # What a function set on the object and reads back (uploads: the download's file name).
                            "content_disposition": stored.get("ContentDisposition"),
                            "metadata": stored.get("Metadata", {}),
                        },
                    )
                objects[key] = cache[key][1]
        for gone in set(cache) - seen:
            del cache[gone]
        return objects

    def restore(self, app: App, directory: Path) -> int:
        """Put DIR/snapshot.json back, if there is one. A file that cannot be read whole is a PersistError: never
        an empty database in place of the saved one."""
        path = directory / "snapshot.json"
        if not path.exists():
            return 0
        data = read_snapshot(path)
        restored = 0
        try:
            for table, items in data["tables"].items():
                if table not in app.tables:
                    print(
                        f"warning: {table} is no longer in the template; its saved items stay in {path}",
                        file=sys.stderr,
                    )
                    continue
                for start in range(0, len(items), 25):
                    batch = [{"PutRequest": {"Item": boto_item(item)}} for item in items[start : start + 25]]
                    self.dynamodb.batch_write_item(RequestItems={table: batch})
                restored += len(items)
            for name, objects in data["buckets"].items():
                for key, stored in objects.items():
                    extra = (
                        {"ContentDisposition": stored["content_disposition"]}
                        if stored.get("content_disposition")
                        else {}
                    )
                    self.s3.put_object(
                        Bucket=name,
                        Key=key,
                        Body=base64.b64decode(stored["body"], validate=True),
                        ContentType=stored["content_type"],
                        Metadata=stored.get("metadata", {}),
                        **extra,
                    )
                restored += len(objects)
        except (ClientError, ParamValidationError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise PersistError(path, f"its data cannot be put back: {error}") from error
        return restored


SNAPSHOT_FORMAT = 1


def wire_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item as boto3's client gives it, in DynamoDB's JSON wire format: binary values (B, BS) as base64 text."""
    return {name: wire_value(value) for name, value in item.items()}


def wire_value(value: dict[str, Any]) -> dict[str, Any]:
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(member).decode() for member in inner]}
    if kind == "M":
        return {"M": wire_item(inner)}
    if kind == "L":
        return {"L": [wire_value(member) for member in inner]}
    return value


def boto_item(item: dict[str, Any]) -> dict[str, Any]:
    """The reverse of wire_item, for boto3's client, which takes binary values as bytes."""
    return {name: boto_value(value) for name, value in item.items()}


def boto_value(value: dict[str, Any]) -> dict[str, Any]:
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner, validate=True)}
    if kind == "BS":
        return {"BS": [base64.b64decode(member, validate=True) for member in inner]}
    if kind == "M":
        return {"M": boto_item(inner)}
    if kind == "L":
        return {"L": [boto_value(member) for member in inner]}
    return value


class PersistError(ValueError):
    """A --persist snapshot that cannot be read whole: says which file, what is wrong, and how to start over."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"{path} is not a usable snapshot: {problem}. Nothing was restored, and the dev server does not start "
            f"with an empty database in its place. To keep the file for later and start over with empty tables: "
            f"mv {path} {path}.broken"
        )


def read_snapshot(path: Path) -> dict[str, Any]:
    """The snapshot's JSON, its shape checked: a truncated or corrupted file is a PersistError naming the fault."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise PersistError(path, f"it is not UTF-8 text (byte {error.start})") from error
    if not text.strip():
        raise PersistError(path, "it is empty (a truncated write?)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        # Cut short: the parser ran out of text, or the text ends inside a string.
        truncated = error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string")
        where = "it ends before the JSON does (truncated?)" if truncated else "it is not JSON"
        place = f"at line {error.lineno}, column {error.colno}, of {len(text)} characters"
        raise PersistError(path, f"{where}: {error.msg.removesuffix(' at')} {place}") from error
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("tables"), dict)
        or not isinstance(data.get("buckets"), dict)
    ):
        raise PersistError(path, 'it is JSON, but not {"tables": {...}, "buckets": {...}}')
    if data.get("format", SNAPSHOT_FORMAT) != SNAPSHOT_FORMAT:
        raise PersistError(path, f"its format is {data.get('format')!r}; this dev server reads {SNAPSHOT_FORMAT}")
    for table, items in data["tables"].items():
        if not isinstance(items, list) or not all(isinstance(item, dict) and item for item in items):
            raise PersistError(path, f"table {table} is not a list of items")
    for bucket, objects in data["buckets"].items():
        if not isinstance(objects, dict) or not all(
            isinstance(stored, dict) and isinstance(stored.get("body"), str) for stored in objects.values()
        ):
            raise PersistError(path, f"bucket {bucket} is not a map of objects")
    return data


def secret_values(app: App, root: Path) -> dict[str, str]:
    """Secret values from the gitignored secrets.local.json, created on first run from secrets.example.json.

    A secret the template declares but the file lacks, or has empty (one added since), is added to it: from the
    example file, else the template's own SecretString, else a fresh random value if the template generates one.
    Values already there are kept."""
    local = root / "secrets.local.json"
    example = root / "secrets.example.json"
    values: dict[str, str] = json.loads(local.read_text()) if local.exists() else {}
    examples: dict[str, str] = json.loads(example.read_text()) if example.exists() else {}
    missing = [logical_id for logical_id in app.secrets if not values.get(logical_id)]
    for logical_id in missing:
        properties = app.secrets[logical_id]
        given = properties.get("SecretString")
        values[logical_id] = examples.get(logical_id) or (given if isinstance(given, str) else "")
        if not values[logical_id] and "GenerateSecretString" in properties:
            values[logical_id] = secrets.token_urlsafe(48)
    if missing or not local.exists():
        write_secret_values(local, values)
    empty = [logical_id for logical_id in app.secrets if not values.get(logical_id)]
    if empty:
        # Secrets Manager refuses an empty SecretString: say which value to fill in, not a botocore traceback.
        raise ValueError(f"secret {empty[0]} has no value: set it in {local}")
    return values


def unset_secrets(app: App, root: Path) -> set[str]:
    """The template's secrets that secrets.local.json has no value for yet: secret_values() is about to make them."""
    local = root / "secrets.local.json"
    values: dict[str, str] = json.loads(local.read_text()) if local.exists() else {}
    return {logical_id for logical_id in app.secrets if not values.get(logical_id)}


def update_secret_values(root: Path, changes: dict[str, str | None]) -> None:
    """Set these values in secrets.local.json (None removes one), keeping the others."""
    local = root / "secrets.local.json"
    values: dict[str, str] = json.loads(local.read_text()) if local.exists() else {}
    for logical_id, value in changes.items():
        if value is None:
            values.pop(logical_id, None)
        else:
            values[logical_id] = value
    write_secret_values(local, values)


def write_secret_values(local: Path, values: dict[str, str]) -> None:
    temporary = local.with_name(local.name + ".tmp")
    temporary.touch(mode=0o600)
    temporary.write_text(json.dumps(values, indent=2) + "\n")
    temporary.chmod(0o600)
    temporary.replace(local)  # atomic: a crash mid-write keeps the old file

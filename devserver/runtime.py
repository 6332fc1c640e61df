"""What the Lambda python runtime gives a function, and nothing more: its import path and its environment.

On Lambda a function sees its own code (with its requirements.txt installed beside it), its layers under
/opt/python, the runtime's boto3, and the standard library. Locally each of those dependency sets is pip-installed
once into a cache directory named after the hash of its requirements, so a restart is instant and editing one
requirements.txt reinstalls only that set. Workers start with `python -I -S`: no dev venv, no PYTHON* variables.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from devserver.template import Function, Layer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CACHE = ROOT / ".devserver-cache"
RUNTIME_REQUIREMENTS = Path(__file__).with_name("runtime-requirements.txt")
PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
SERVICES = ("DYNAMODB", "S3", "SECRETS_MANAGER")
PIP_INSTALL = (sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input")

# Lambda's "defined runtime environment variables" that a function cannot set itself:
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
RESERVED = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


class DependencyError(RuntimeError):
    """A requirements.txt that pip could not install: the function cannot start until it is fixed."""


class Dependencies:
    """Pip-installed dependency sets, one directory per distinct requirements text (and interpreter)."""

    def __init__(self, cache: Path = DEFAULT_CACHE, log: Callable[[str], None] | None = None) -> None:
        self.cache = cache
        self.pycache = cache / "pycache"  # the workers' bytecode (python -X pycache_prefix)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.failed: dict[str, str] = {}  # a set pip could not install is tried once per run, not once per user

    def install(self, requirements: Path) -> Path:
        text = requirements.read_text()
        key = hashlib.sha256(f"{PYTHON}\n{platform.machine()}\n{text}".encode()).hexdigest()[:16]
        target = self.cache / "deps" / key
        if (target / ".complete").exists():
            return target
        if key in self.failed:
            raise DependencyError(self.failed[key])
        target.parent.mkdir(parents=True, exist_ok=True)
        self.log(f"Installing {_display(requirements)} (once; cached in {_display(target)})")
        # Into a private directory, renamed when complete: two dev servers may install the same set at once.
        building = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=target.parent))
        result = subprocess.run(
            [*PIP_INSTALL, "--target", str(building), "-r", str(requirements)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            self.failed[key] = f"pip could not install {_display(requirements)}:\n{result.stderr.strip()}"
            raise DependencyError(self.failed[key])
        (building / "requirements.txt").write_text(text)
        (building / ".complete").touch()
        try:
            building.rename(target)
        except OSError:  # the other installer finished first: its copy is as good as ours
            shutil.rmtree(building, ignore_errors=True)
        return target

    def python_path(self, function: Function) -> list[str]:
        """sys.path as Lambda orders it: /var/task (code + its requirements), /opt/python (layers), then the
        runtime's boto3. https://docs.aws.amazon.com/lambda/latest/dg/python-package.html#python-package-searchpath"""
        paths = [function.code_dir]
        requirements = function.code_dir / "requirements.txt"
        if requirements.is_file():
            paths.append(self.install(requirements))  # `sam build` installs these into the function's artifact
        # Layers are extracted into /opt in order, a later layer overwriting an earlier one's files: search the
        # last one first. https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html
        for layer in reversed(function.layers):
            paths.extend(self.layer_paths(layer, function.runtime))
        paths.append(self.install(RUNTIME_REQUIREMENTS))
        return [str(path) for path in paths]

    def layer_paths(self, layer: Layer, runtime: str = PYTHON) -> list[Path]:
        if layer.build_method:
            # `sam build` (BuildMethod: python3.x) copies ContentUri into python/ and installs its requirements
            # there: both end up in /opt/python.
            requirements = layer.content_dir / "requirements.txt"
            return [layer.content_dir, *([self.install(requirements)] if requirements.is_file() else [])]
        # No BuildMethod: ContentUri is zipped as it is, so only its python/ folders are importable.
        python = layer.content_dir / "python"
        return [path for path in (python / "lib" / runtime / "site-packages", python) if path.is_dir()]


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def log_stream_name() -> str:
    """One per execution environment, in Lambda's format: 2026/11/27/[$LATEST]<32 hex digits>."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def lambda_environment(function: Function, region: str, endpoint: str) -> dict[str, str]:
    """A worker's whole environment: what Lambda sets, then the template's and env.json's variables. Nothing
    from the developer's shell. https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html"""
    environment = {
        "_HANDLER": function.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **DUMMY_CREDENTIALS,
        "LAMBDA_TASK_ROOT": str(function.code_dir),  # /var/task on Lambda: here, the function's own directory
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "LD_LIBRARY_PATH": "/opt/lib",
        # As `sam local` sets it, and the one way this differs from AWS: every SDK client talks to the local AWS.
        "AWS_SAM_LOCAL": "true",
        "AWS_ENDPOINT_URL": endpoint,
        **{f"AWS_ENDPOINT_URL_{service}": endpoint for service in SERVICES},
    }
    # Lambda refuses to deploy a function that sets a reserved variable, so the template cannot override them.
    environment.update({name: value for name, value in function.environment.items() if name not in RESERVED})
    return environment


def reserved_in_template(function: Function) -> list[str]:
    return sorted(name for name in function.environment if name in RESERVED)


def coverage_environment() -> dict[str, str]:
    """Under `make test`, coverage measures the workers too: they get its settings, and nothing else of ours."""
    return {
        name: os.environ[name] for name in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START") if name in os.environ
    }

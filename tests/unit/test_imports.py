"""Every function imports at cold start without any AWS environment: no region, no credentials, no table names."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))

IMPORT_BY_PATH = """
import importlib.util, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[1]))  # as Lambda: the function's own modules import by name
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert callable(module.lambda_handler)
"""


def test_there_are_functions_to_import():
    assert {"health", "not_found", "posts_create", "posts_get", "posts_list"} <= set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_imports_without_an_aws_environment(function, tmp_path):
    # HOME points at an empty directory so no ~/.aws/config can stand in for the missing variables.
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": "layers/shared"}
    assert not any(name.startswith("AWS_") for name in environment)

    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_BY_PATH, str(ROOT / "functions" / function / "app.py")],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr


def test_botocore_never_logs_at_debug_where_secret_values_would_be_in_its_response_lines():
    import logging

    import apikit.logging  # noqa: F401 - what every function imports

    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        assert not logging.getLogger("botocore").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(previous)

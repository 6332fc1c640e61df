"""The OpenAPI document, built in this process from every function's @route declarations, is the committed one.

test_openapi.py builds it as `make openapi` does, each function imported in a Lambda-shaped process of its own,
which proves that each one imports and describes itself alone. This builds the same document from the same modules
imported here, so that apikit.routes and apikit.openapi run where the tests (and mutation testing) can see them:
any change to what they write shows up as a difference from docs/openapi.json.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from typing import Any

import pytest

from apikit import routes
from apikit.openapi import describe
from devserver.template import Function, load_app
from devserver.worker import load_module
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import openapi as generator


def describe_here(function: Function, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What scripts/openapi.py's `_DESCRIBE` prints for this function, from a fresh import of its module here."""
    for name in [name for name in os.environ if name.startswith("RATE_LIMIT")]:
        monkeypatch.delenv(name)
    for name, value in function.environment.items():
        if name.startswith("RATE_LIMIT"):  # the settings that decide its 429 and 503 (as describe_function passes)
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(routes, "DECLARED", [])
    module_name, _, handler_name = function.handler.rpartition(".")
    module = load_module(function.code_dir / f"{module_name.replace('.', '/')}.py", f"openapi_{function.logical_id}")
    if hasattr(module, "ROUTE"):
        declaration = dict(module.ROUTE)
        routes.route(None, declaration.pop("methods"), declaration.pop("path"), **declaration)(
            getattr(module, handler_name)
        )
    described = describe(routes.DECLARED)
    monkeypatch.undo()
    return described


def test_the_document_built_in_this_process_is_the_committed_one(monkeypatch):
    app = load_app(ROOT / "template.yaml")
    described = {name: describe_here(function, monkeypatch) for name, function in app.functions.items()}

    files = generator.outputs(generator.assemble(app, described))

    for path, text in files.items():
        committed = path.read_text()
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True), text.splitlines(keepends=True), "committed", "built", n=2
            )
        )
        assert text == committed, f"{path.relative_to(ROOT)} differs from the declarations (`make openapi`):\n{diff}"

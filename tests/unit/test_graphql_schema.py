"""docs/schema.graphql is the schema the GraphQL function serves: `make openapi` writes it, this fails when stale."""

from __future__ import annotations

import subprocess
import sys

from devserver.worker import load_module
from tests.conftest import ROOT


def test_the_committed_sdl_is_what_the_function_serves():
    check = subprocess.run(
        [sys.executable, "scripts/graphql_schema.py", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )

    assert check.returncode == 0, check.stderr


def test_a_changed_schema_makes_the_check_fail_and_name_the_command(tmp_path, monkeypatch, capsys):
    script = load_module(ROOT / "scripts" / "graphql_schema.py", "graphql_schema_script")
    stale = tmp_path / "schema.graphql"
    stale.write_text((ROOT / "docs" / "schema.graphql").read_text().replace("title: String!", "title: String", 1))
    monkeypatch.setattr(script, "DOCUMENT", stale)
    monkeypatch.setattr(sys, "argv", ["graphql_schema.py", "--check"])

    assert script.main() == 1
    assert "is stale: run `make graphql`" in capsys.readouterr().err

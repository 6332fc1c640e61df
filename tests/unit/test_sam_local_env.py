"""scripts/sam_local_env.py: the env.json and template copy that point `sam local start-api` at a local AWS."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from devserver.template import bucket_name, load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import sam_local_env  # noqa: E402

ENDPOINT = "http://172.17.0.1:5000"


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    """The script run on a copy of template.yaml standing in for the built one: (env.json, template copy)."""
    build = tmp_path_factory.mktemp("build")
    (build / "template.yaml").write_text((ROOT / "template.yaml").read_text())
    for folder in ("functions", "layers"):
        (build / folder).symlink_to(ROOT / folder, target_is_directory=True)

    assert sam_local_env.main(["--endpoint", ENDPOINT, "--built", str(build / "template.yaml")]) == 0

    return (
        json.loads((build / "env.sam-local.json").read_text()),
        json.loads((build / "template.sam-local.json").read_text()),
    )


def test_every_function_gets_the_endpoint_and_its_resources_as_the_dev_server_names_them(written):
    env_vars, _ = written
    functions = resources_of_type(load_template(ROOT / "template.yaml"), "AWS::Serverless::Function")

    assert set(env_vars) == set(functions)
    assert {variables["AWS_ENDPOINT_URL"] for variables in env_vars.values()} == {ENDPOINT}
    assert env_vars["PostsGetFunction"]["POSTS_TABLE"] == "PostsTable"  # a table's name is its logical id
    assert env_vars["UploadsListFunction"]["UPLOADS_BUCKET"] == bucket_name("UploadsBucket")
    assert env_vars["AuthLoginFunction"]["JWT_SIGNING_KEY_ARN"] == "JwtSigningKey"  # a secret's id, too


def test_the_template_copy_declares_every_variable_env_json_sets_and_changes_nothing_else(written):
    env_vars, template = written
    original = load_template(ROOT / "template.yaml")
    declared_globally = set(template["Globals"]["Function"]["Environment"]["Variables"])

    # sam local passes a function only the env.json variables its template declares.
    for logical_id, variables in env_vars.items():
        own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        assert set(variables) <= declared_globally | set(own), logical_id
    assert template["Globals"]["Function"]["Environment"]["Variables"].pop("AWS_ENDPOINT_URL") == ""
    assert template == json.loads(json.dumps(original))

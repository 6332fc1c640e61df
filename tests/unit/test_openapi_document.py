"""The OpenAPI document, built in this process from every function's @route declarations, is the committed one.

test_openapi.py builds it as `make openapi` does, each function imported in a Lambda-shaped process of its own,
which proves that each one imports and describes itself alone. This builds the same document from the same modules
imported here, so that apikit.routes and apikit.openapi run where the tests (and mutation testing) can see them:
any change to what they write shows up as a difference from docs/openapi.json.
"""

from __future__ import annotations

import difflib
import os
import sys
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from apikit import routes
from apikit.openapi import describe
from apikit.repositories.posts import _absent_not_null
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
    monkeypatch.syspath_prepend(str(function.code_dir))  # as Lambda: a function imports its own modules by name
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


class Note(BaseModel):
    text: str


def test_a_model_read_and_answered_with_different_schemas_is_refused_as_one_name_must_mean_one_shape():
    """A request string refuses control characters (a pattern) and a response's does not: two shapes, one name."""
    echo = routes.Route(("POST",), "/api/notes", "Echo", "echo_note", body=Note, response=Note)

    with pytest.raises(ValueError, match=r"^Note: two different models have this name") as refused:
        describe([echo])

    assert str(refused.value) == (
        "Note: two different models have this name, or one model has different request and response schemas; "
        "rename one, or split it in two"
    )


class Filters(BaseModel):
    after: int | None  # required, though typed optional: a query string cannot say null
    flag: int | bool | None = None
    size: int | None = 10  # a default of its own is the server's, and documented


def test_a_query_parameter_is_documented_without_null_and_keeps_its_other_types_and_its_default():
    described = describe([routes.Route(("GET",), "/api/things", "Things", "list_things", query=Filters)])

    parameters = described["paths"]["/api/things"]["get"]["parameters"]
    assert parameters == [
        {"name": "after", "in": "query", "required": True, "schema": {"type": "integer"}},
        {
            "name": "flag",
            "in": "query",
            "required": False,
            "schema": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]},
        },
        {"name": "size", "in": "query", "required": False, "schema": {"type": "integer", "default": 10}},
    ]


class Mapped(BaseModel):
    """Examples as OpenAPI 3.0's named mapping, which a JSON schema's `examples` (a list) is not."""

    model_config = ConfigDict(json_schema_extra={"examples": {"one": {"count": 1}}})
    count: int


def test_a_models_examples_that_are_not_a_list_give_no_example_rather_than_a_wrong_one():
    described = describe([routes.Route(("GET",), "/api/counts", "Counts", "get_count", response=Mapped)])

    answer = described["paths"]["/api/counts"]["get"]["responses"]["200"]
    assert answer["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Mapped"}}}


def test_a_patch_field_is_documented_as_its_type_alone_whichever_order_pydantic_lists_null_in():
    """PostPatch's hook: a field may be left out, never null (`None | X` lists null first; no default is fine)."""
    schema = {
        "properties": {
            "title": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 200}], "default": None},
            "content": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Content"},
        }
    }

    _absent_not_null(schema)

    assert schema == {
        "properties": {
            "title": {"type": "string", "maxLength": 200},
            "content": {"type": "string", "title": "Content"},
        },
        "examples": [{"title": "A new title"}],
    }

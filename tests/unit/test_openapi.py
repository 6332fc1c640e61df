"""The OpenAPI document: built from the handlers' declarations, current in git, valid, and the template's routes.

`make test` fails here when a handler's declaration changed and `make openapi` was not run.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from devserver.template import load_app
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import openapi as generator

METHODS = {"get", "head", "post", "put", "patch", "delete"}
CATCH_ALL = ("ANY", "/api/{proxy+}")


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    return generator.build(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads((ROOT / "docs" / "openapi.json").read_text())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_generated_file_is_what_the_handlers_declare(built):
    stale = [
        str(path.relative_to(ROOT))
        for path, text in generator.outputs(built).items()
        if not path.is_file() or path.read_text() != text
    ]

    assert not stale, f"run `make openapi`: {stale} differ from the handlers' declarations"


def test_the_document_is_valid_openapi_3_1(document):
    validate(document)

    assert document["openapi"].startswith("3.1.")


def test_its_operations_are_exactly_the_template_routes_each_served_by_its_function(document):
    template = {
        (route.method, route.path): route.function
        for route in load_app(ROOT / "template.yaml").routes
        if (route.method, route.path) != CATCH_ALL
    }

    documented = {(method.upper(), path): op["x-function"] for method, path, op in operations(document)}

    assert documented == template


def test_the_catch_all_routes_are_the_documents_paths(document):
    routes = json.loads((ROOT / "functions" / "not_found" / "routes.json").read_text())

    assert routes == {path: [method.upper() for method in item] for path, item in document["paths"].items()}


def test_operation_ids_are_unique_and_component_names_read_as_names(document):
    ids = [op["operationId"] for _, _, op in operations(document)]

    assert len(ids) == len(set(ids))
    # pydantic's fallbacks for clashing models look like `Post-Output` or `apikit__repositories__posts__Post`.
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+", name) for name in document["components"]["schemas"])


def test_every_error_is_documented_as_problem_json(document):
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400 and method != "head":
                (media_type, content), *others = response["content"].items()
                assert (media_type, others) == ("application/problem+json", []), f"{method} {path} {status}"
                assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
                assert content["example"]["status"] == int(status), "each status shows an example of its own"
            if method == "head":
                assert "content" not in response, f"HEAD {path} {status} cannot have a body"
            assert "X-Request-Id" in response["headers"], f"{method} {path} {status}"


def test_bearer_routes_document_401_and_the_challenge(document):
    bearer = [(m, p, op) for m, p, op in operations(document) if op.get("security") == [{"bearerAuth": []}]]

    assert {(m, p) for m, p, _ in bearer} >= {("post", "/api/posts"), ("get", "/api/auth/me")}
    for _, _, operation in bearer:
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["components"]["securitySchemes"]["refreshCookie"]["in"] == "cookie"


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    # jsonschema resolves the document's #/components refs when the schema sits in the whole document.
    return {**schema, "components": document["components"]}


def test_every_example_fits_its_schema(document):
    checked = 0
    for _method, _path, operation in operations(document):
        bodies = [*operation.get("requestBody", {}).get("content", {}).values()]
        bodies += [
            content for response in operation["responses"].values() for content in response.get("content", {}).values()
        ]
        for media in bodies:
            if "example" in media:
                jsonschema.validate(media["example"], _resolve(document, media["schema"]))
                checked += 1
    for name, schema in document["components"]["schemas"].items():
        for example in schema.get("examples", []):
            jsonschema.validate(example, _resolve(document, {"$ref": f"#/components/schemas/{name}"}))
            checked += 1

    assert checked >= 10


def test_validation_problems_name_the_model_constraints(document):
    """The document says what the handlers enforce: a title of 1..200 characters, a limit of 1..100."""
    post_input = document["components"]["schemas"]["PostInput"]
    limit = next(p for p in document["paths"]["/api/posts"]["get"]["parameters"] if p["name"] == "limit")
    post_id = document["paths"]["/api/posts/{id}"]["get"]["parameters"][0]

    assert post_input["properties"]["title"] | {"minLength": 1, "maxLength": 200} == post_input["properties"]["title"]
    assert post_input["additionalProperties"] is False
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"], limit["schema"]["default"]) == (1, 100, 20)
    assert post_id["in"] == "path"
    assert "pattern" in post_id["schema"]


def test_a_declaration_that_is_not_the_template_route_is_refused_naming_both(tmp_path):
    project = _project(tmp_path, {"One": "/api/One", "Two": "/api/typo"})

    with pytest.raises(SystemExit) as refused:
        generator.build(project)

    assert str(refused.value) == (
        "TwoFunction: template.yaml routes GET /api/Two, HEAD /api/Two to it, but its code declares no such @route; "
        "its code declares GET /api/typo, HEAD /api/typo, which template.yaml does not route to it (Powertools' own "
        "@app.get(...) registers a route without declaring it: use apikit.routes.route)"
    )


def test_a_get_route_without_its_head_event_is_refused(tmp_path):
    """Every GET declaration serves HEAD too (apikit.routes), and an HTTP API's GET route does not match HEAD."""
    project = _project(tmp_path, {"One": "/api/One"}, head_event=False)

    with pytest.raises(SystemExit) as refused:
        generator.build(project)

    assert (
        str(refused.value) == "OneFunction: its code declares HEAD /api/One, which template.yaml does not route to it"
    )


def test_a_route_registered_with_powertools_alone_is_refused(tmp_path):
    project = _project(tmp_path, {"One": "/api/One"}, decorator="@app.get({path!r})")

    with pytest.raises(
        SystemExit, match=r"OneFunction: template.yaml routes GET /api/One, HEAD /api/One to it, but its code declares"
    ):
        generator.build(project)


def test_two_different_models_with_one_name_are_refused_naming_both_functions(tmp_path):
    project = _project(tmp_path, {"One": "/api/One", "Two": "/api/Two"}, model_field={"One": "a", "Two": "b"})

    with pytest.raises(SystemExit, match=r"^OneFunction and TwoFunction declare different schemas named 'Thing'"):
        generator.build(project)


def test_two_handlers_with_one_name_are_refused_the_name_is_the_operation_id(tmp_path):
    project = _project(tmp_path, {"One": "/api/One", "Two": "/api/Two"}, handler="handler")

    with pytest.raises(SystemExit, match=r"^OneFunction and TwoFunction both have a handler named 'handler'"):
        generator.build(project)


def _project(
    tmp_path: Path,
    routes: dict[str, str],
    model_field: dict[str, str] | None = None,
    decorator: str = "@route(app, 'GET', {path!r}, summary='x', response=Thing)",
    handler: str = "",
    head_event: bool = True,
) -> Path:
    """A template of functions `<name>Function`, each routed GET (and HEAD) /api/<name>, whose code declares
    `routes[name]` with `decorator` on a handler returning a model called Thing (with a field `model_field[name]`,
    else `a`)."""
    resources = defaultdict(dict)
    for name, path in routes.items():
        field = (model_field or {}).get(name, "a")
        code = tmp_path / name
        code.mkdir()
        (code / "app.py").write_text(
            "from pydantic import BaseModel\n"
            "from apikit.app import create_app\n"
            "from apikit.routes import route\n"
            "app = create_app()\n"
            f"class Thing(BaseModel):\n    {field}: int\n"
            f"{decorator.format(path=path)}\n"
            f"def {handler or 'handler_' + name.lower()}() -> dict[str, int]:\n    return {{}}\n"
        )
        resources[f"{name}Function"] = {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": f"{name}/",
                "Handler": "app.handler",
                "Runtime": "python3.13",
                "Layers": [{"Ref": "Shared"}],
                "Events": {
                    method.title(): {"Type": "HttpApi", "Properties": {"Path": f"/api/{name}", "Method": method}}
                    for method in ("GET", "HEAD")[: 2 if head_event else 1]
                },
            },
        }
    resources["Shared"] = {
        "Type": "AWS::Serverless::LayerVersion",
        "Properties": {"ContentUri": str(ROOT / "layers" / "shared")},
        "Metadata": {"BuildMethod": "python3.13"},
    }
    template = tmp_path / "template.yaml"
    template.write_text(json.dumps({"Transform": "AWS::Serverless-2016-10-31", "Resources": resources}))
    return template

"""devserver.worker.load_module, the loader of tests/conftest.py and the benchmarks: a handler file imported by path
under a name of its own behaves as one imported by `import`, module-level pydantic models included."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devserver.worker import LambdaContext, load_module

ECHO = '''
from pydantic import JsonValue, RootModel


class Echo(RootModel[JsonValue]):
    """Any JSON document: pydantic builds RootModel[JsonValue] from this module's globals, found in sys.modules."""


def lambda_handler(event, context):
    return Echo.model_validate(event["document"]).model_dump_json()
'''


@pytest.fixture
def module_name() -> Iterator[str]:
    """A module name no other test uses (as conftest's `fn_<function>`), removed from sys.modules afterwards."""
    name = "fn_echo_load_module_test"
    yield name
    sys.modules.pop(name, None)


def handler_file(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "echo" / "app.py"
    path.parent.mkdir()
    path.write_text(source)
    return path


def test_a_module_level_generic_root_model_loads_and_validates(tmp_path, module_name):
    module = load_module(handler_file(tmp_path, ECHO), module_name)

    answer = module.lambda_handler({"document": {"tags": ["a", "b"], "n": 1}}, LambdaContext("echo"))

    assert answer == '{"tags":["a","b"],"n":1}'


def test_the_module_is_registered_under_its_name(tmp_path, module_name):
    module = load_module(handler_file(tmp_path, ECHO), module_name)

    assert sys.modules[module_name] is module
    assert module.Echo.__module__ == module_name


def test_a_module_that_fails_to_execute_is_not_left_registered(tmp_path, module_name):
    source = f"import sys\nassert sys.modules[{module_name!r}].__name__ == {module_name!r}\nraise ValueError('boom')\n"

    with pytest.raises(ValueError, match="boom"):
        load_module(handler_file(tmp_path, source), module_name)

    assert module_name not in sys.modules

"""The dev server reads template.yaml as CloudFormation would: parameters, conditions, Fn::If, AWS::NoValue."""

from __future__ import annotations

from devserver.template import load_app
from tests.conftest import ROOT


def test_reserved_concurrency_caps_the_workers_only_when_set():
    default = load_app(ROOT / "template.yaml", default_concurrency=4)
    reserved = load_app(ROOT / "template.yaml", {"ReservedConcurrency": "2"}, default_concurrency=4)

    assert {function.concurrency for function in default.functions.values()} == {4}
    assert {function.concurrency for function in reserved.functions.values()} == {2}


def test_parameters_flow_into_every_function_environment():
    app = load_app(ROOT / "template.yaml", {"LogLevel": "DEBUG"})

    environments = [function.environment for function in app.functions.values()]
    assert {environment["LOG_LEVEL"] for environment in environments} == {"DEBUG"}
    assert {environment["POSTS_TABLE"] for environment in environments} == {"PostsTable"}


def test_cors_comes_from_the_http_api():
    app = load_app(ROOT / "template.yaml", {"CorsAllowedOrigins": "https://a.example, https://b.example"})

    cors = app.apis["HttpApi"].cors
    assert cors is not None
    assert cors["AllowOrigins"] == ["https://a.example", "https://b.example"]
    assert cors["AllowCredentials"] is True


def test_template_lines_give_each_written_key_its_own_line(tmp_path):
    """For the checks' messages (scripts/check_operations.py): a key's line, not its value's, and list items'."""
    from devserver.template import template_lines

    (tmp_path / "template.yaml").write_text(
        "Resources:\n  One:\n    Type: X\n  Two: !Ref One\n  List:\n    - a\n    - b\n"
    )

    lines = template_lines(tmp_path / "template.yaml")

    assert [lines[("Resources",)], lines[("Resources", "One")], lines[("Resources", "One", "Type")]] == [1, 2, 3]
    assert [lines[("Resources", "Two")], lines[("Resources", "List", 1)]] == [4, 7]

"""The dev server reads a SAM template as SAM and Lambda would: Globals, HttpApi routes, layers, the runtime's
environment, and samconfig.toml. Each test writes a small template of its own into tmp_path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from devserver.cli import parser, samconfig_defaults
from devserver.runtime import RUNTIME_REQUIREMENTS, Dependencies, lambda_environment, reserved_in_template
from devserver.template import App, TemplateError, load_app, parse_parameter_overrides

FUNCTION = """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fn/
      Handler: app.handler
"""


def write_template(directory: Path, text: str, **kwargs: Any) -> App:
    (directory / "template.yaml").write_text(textwrap.dedent(text))
    return load_app(directory / "template.yaml", **kwargs)


def http_api_app(directory: Path, events: str, head: str = "") -> App:
    """One function whose Events are `events` (YAML indented by 8), after `head` resources."""
    return write_template(directory, f"Resources:{head}{FUNCTION}      Events:\n{textwrap.indent(events, ' ' * 8)}")


# Globals: maps merge (the function's key wins), lists are Globals' entries then the function's, scalars are the
# function's. https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-template-anatomy-globals.html
GLOBALS_TEMPLATE = """
Globals:
  Function:
    Timeout: 10
    MemorySize: 256
    Layers: [!Ref LayerA]
    Environment:
      Variables: {SHARED: from-globals, X: globals-x, ONLY_GLOBAL: kept}
Resources:
  LayerA: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layers/a/}}
  LayerB: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layers/b/}}
  FnA:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/a/
      Handler: app.handler
      Timeout: 20
      MemorySize: 1024
      Layers: [!Ref LayerB]
      Environment:
        Variables: {X: function-x, OWN: mine}
  FnB:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/b/, Handler: app.handler}
"""


def test_globals_layers_come_first_and_scalars_are_the_functions(tmp_path):
    app = write_template(tmp_path, GLOBALS_TEMPLATE)
    fn_a, fn_b = app.functions["FnA"], app.functions["FnB"]

    assert [layer.logical_id for layer in fn_a.layers] == ["LayerA", "LayerB"]
    assert [layer.logical_id for layer in fn_b.layers] == ["LayerA"]
    assert (fn_a.timeout, fn_a.memory_mb, fn_b.timeout, fn_b.memory_mb) == (20, 1024, 10, 256)


def test_globals_environment_merges_with_the_functions_value_winning(tmp_path):
    app = write_template(tmp_path, GLOBALS_TEMPLATE)

    assert app.functions["FnA"].environment == {
        "SHARED": "from-globals",
        "X": "function-x",
        "ONLY_GLOBAL": "kept",
        "OWN": "mine",
    }


def test_a_function_without_environment_gets_the_globals_and_env_json_does_not_leak(tmp_path):
    # env.json overrides only variables the template declares, as `sam local` does.
    app = write_template(tmp_path, GLOBALS_TEMPLATE, env_vars={"FnA": {"X": "a", "UNDECLARED": "u"}})

    assert app.functions["FnA"].environment["X"] == "a"
    assert "UNDECLARED" not in app.functions["FnA"].environment
    assert app.functions["FnB"].environment == {"SHARED": "from-globals", "X": "globals-x", "ONLY_GLOBAL": "kept"}


def test_env_json_may_name_a_function_by_its_function_name(tmp_path):
    template = GLOBALS_TEMPLATE.replace(
        "      CodeUri: functions/a/", "      FunctionName: fn-a\n      CodeUri: functions/a/"
    )

    app = write_template(tmp_path, template, env_vars={"fn-a": {"X": "by-name"}})

    assert app.functions["FnA"].name == "fn-a"
    assert app.functions["FnA"].environment["X"] == "by-name"
    assert app.functions["FnB"].environment["X"] == "globals-x"


# HttpApi events: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-httpapi.html
# No Path and no Method is the API's $default route; no ApiId puts the route on the implicit ServerlessHttpApi.
def test_an_event_without_path_and_method_is_the_default_route_of_the_implicit_api(tmp_path):
    app = http_api_app(tmp_path, "Catch:\n  Type: HttpApi\n")

    (route,) = app.routes
    assert route.route_key == "$default"
    assert route.api == "ServerlessHttpApi"
    assert "ServerlessHttpApi" in app.apis


def test_globals_http_api_cors_applies_to_explicit_and_implicit_apis(tmp_path):
    app = write_template(
        tmp_path,
        """
        Globals:
          HttpApi:
            CorsConfiguration: {AllowOrigins: [https://app.example]}
        Resources:
          MyApi: {Type: AWS::Serverless::HttpApi}
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: functions/fn/
              Handler: app.handler
              Events:
                Explicit: {Type: HttpApi, Properties: {ApiId: !Ref MyApi, Path: /a, Method: get}}
                Implicit: {Type: HttpApi, Properties: {Path: /b, Method: get}}
        """,
    )

    assert {route.path: route.api for route in app.routes} == {"/a": "MyApi", "/b": "ServerlessHttpApi"}
    assert app.apis["MyApi"].cors == app.apis["ServerlessHttpApi"].cors == {"AllowOrigins": ["https://app.example"]}


TWO_APIS = """
  PublicApi: {Type: AWS::Serverless::HttpApi, Properties: {CorsConfiguration: {AllowOrigins: ["*"]}}}
  AdminApi:
    Type: AWS::Serverless::HttpApi
    Properties: {CorsConfiguration: {AllowOrigins: [https://admin.example], AllowCredentials: true}}"""


def test_each_route_belongs_to_its_own_http_api_with_its_own_cors(tmp_path):
    app = http_api_app(
        tmp_path,
        "Public: {Type: HttpApi, Properties: {ApiId: !Ref PublicApi, Path: /posts, Method: get}}\n"
        "Admin: {Type: HttpApi, Properties: {ApiId: !Ref AdminApi, Path: /admin, Method: get}}\n",
        TWO_APIS,
    )

    assert {route.route_key: route.api for route in app.routes} == {"GET /posts": "PublicApi", "GET /admin": "AdminApi"}
    assert app.apis["PublicApi"].cors == {"AllowOrigins": ["*"]}
    assert app.apis["AdminApi"].cors == {"AllowOrigins": ["https://admin.example"], "AllowCredentials": True}


def test_a_route_declared_twice_is_refused_by_name(tmp_path):
    with pytest.raises(TemplateError, match=r"GET /posts"):
        http_api_app(
            tmp_path,
            "One: {Type: HttpApi, Properties: {ApiId: !Ref PublicApi, Path: /posts, Method: get}}\n"
            "Two: {Type: HttpApi, Properties: {ApiId: !Ref AdminApi, Path: /posts, Method: GET}}\n",
            TWO_APIS,
        )


# "The supported values are 1.0 and 2.0":
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
def test_payload_format_is_2_0_by_default_1_0_when_asked_and_nothing_else(tmp_path):
    with pytest.raises(TemplateError, match=r"Fn event Odd: PayloadFormatVersion must be 1\.0 or 2\.0"):
        http_api_app(tmp_path, "Odd: {Type: HttpApi, Properties: {Path: /a, Method: get, PayloadFormatVersion: '3.0'}}")

    app = http_api_app(
        tmp_path,
        "Old: {Type: HttpApi, Properties: {Path: /a, Method: get, PayloadFormatVersion: '1.0'}}\n"
        "New: {Type: HttpApi, Properties: {Path: /b, Method: get}}",
    )
    assert {route.route_key: route.payload_format for route in app.routes} == {"GET /a": "1.0", "GET /b": "2.0"}


# TimeoutInMillis is 50..30000 ms: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
def test_timeout_in_millis_is_kept_within_http_api_limits(tmp_path):
    app = http_api_app(tmp_path, "A: {Type: HttpApi, Properties: {Path: /a, Method: get, TimeoutInMillis: 5000}}")
    assert app.routes[0].timeout_ms == 5000

    for invalid in (40000, 10):
        with pytest.raises(TemplateError, match=rf"TimeoutInMillis .*{invalid}"):
            http_api_app(tmp_path, f"A: {{Type: HttpApi, Properties: {{Path: /a, TimeoutInMillis: {invalid}}}}}")


# Layers: with BuildMethod, `sam build` puts ContentUri itself in /opt/python; without, ContentUri is zipped as it is
# and only python/ (and python/lib/python3.x/site-packages) is importable.
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/building-layers.html
# https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths
SITE_PACKAGES = f"python/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
LAYERS_TEMPLATE = """
Globals:
  Function:
    Layers: [!Ref BuiltLayer]
Resources:
  BuiltLayer:
    Type: AWS::Serverless::LayerVersion
    Properties: {ContentUri: layers/built/}
    Metadata: {BuildMethod: python3.13}
  PlainLayer: {Type: AWS::Serverless::LayerVersion, Properties: {ContentUri: layers/plain/}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fn/
      Handler: app.handler
      Layers: [!Ref PlainLayer, "arn:aws:lambda:us-east-1:123456789012:layer:remote:1"]
"""


def layers_app(root: Path, site_packages: bool = False) -> App:
    for directory in ("layers/built", "layers/plain/python", "functions/fn"):
        (root / directory).mkdir(parents=True)
    if site_packages:
        (root / "layers/plain" / SITE_PACKAGES).mkdir(parents=True)
    return write_template(root, LAYERS_TEMPLATE)


def test_a_layer_with_build_method_is_importable_from_its_content_dir(tmp_path):
    built = layers_app(tmp_path).functions["Fn"].layers[0]

    assert Dependencies(cache=tmp_path / "cache").layer_paths(built) == [tmp_path.resolve() / "layers/built"]


def test_a_layer_without_build_method_exposes_only_its_python_folders(tmp_path):
    plain = layers_app(tmp_path).functions["Fn"].layers[1]
    assert Dependencies(cache=tmp_path / "cache").layer_paths(plain) == [tmp_path.resolve() / "layers/plain/python"]

    plain = layers_app(tmp_path / "with-site-packages", site_packages=True).functions["Fn"].layers[1]
    assert Dependencies(cache=tmp_path / "cache").layer_paths(plain) == [
        plain.content_dir / SITE_PACKAGES,
        plain.content_dir / "python",
    ]


def test_a_layer_arn_outside_the_template_is_a_warning(tmp_path):
    app = layers_app(tmp_path)

    assert [layer.logical_id for layer in app.functions["Fn"].layers] == ["BuiltLayer", "PlainLayer"]
    (warning,) = app.warnings
    assert warning.startswith("Fn: ")
    assert "arn:aws:lambda:us-east-1:123456789012:layer:remote:1" in warning


# sys.path on Lambda: /var/task (code and its requirements), the layers (the last one extracted wins), then the
# runtime's boto3. https://docs.aws.amazon.com/lambda/latest/dg/python-package.html#python-package-searchpath
# https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html
def test_python_path_orders_code_requirements_layers_last_first_then_runtime(tmp_path, monkeypatch):
    function = layers_app(tmp_path).functions["Fn"]
    (function.code_dir / "requirements.txt").write_text("requests\n")
    installed = {function.code_dir / "requirements.txt": Path("/installed/fn"), RUNTIME_REQUIREMENTS: Path("/rt")}
    monkeypatch.setattr(Dependencies, "install", lambda self, requirements: installed[requirements])

    root = tmp_path.resolve()
    assert Dependencies(cache=tmp_path / "cache").python_path(function) == [
        str(root / "functions/fn"),
        "/installed/fn",
        str(root / "layers/plain/python"),
        str(root / "layers/built"),
        "/rt",
    ]


# The runtime's own variables, which a function cannot set:
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
ENVIRONMENT_TEMPLATE = """
Resources:
  Table: {Type: AWS::DynamoDB::Table}
  Named:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/named/
      Handler: app.handler
      FunctionName: my-named-function
      MemorySize: 512
      Environment:
        Variables:
          AWS_REGION: us-west-2
          TABLE_ARN: !GetAtt Table.Arn
          WHERE: !Sub "${AWS::Region}"
  Unnamed:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: functions/unnamed/, Handler: main.run}
"""


def test_lambda_environment_is_what_the_runtime_sets(tmp_path):
    app = write_template(tmp_path, ENVIRONMENT_TEMPLATE, region="eu-west-1")
    named = lambda_environment(app.functions["Named"], "eu-west-1", "http://127.0.0.1:1")
    unnamed = lambda_environment(app.functions["Unnamed"], "eu-west-1", "http://127.0.0.1:1")

    assert named["AWS_REGION"] == named["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert named["AWS_LAMBDA_FUNCTION_NAME"] == "my-named-function"
    assert unnamed["AWS_LAMBDA_FUNCTION_NAME"] == "Unnamed"
    assert (named["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], unnamed["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) == ("512", "128")
    assert named["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert named["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert (named["_HANDLER"], unnamed["_HANDLER"]) == ("app.handler", "main.run")
    assert named["TZ"] == ":UTC"
    assert named["LAMBDA_TASK_ROOT"] == str(tmp_path.resolve() / "functions/named")
    assert named["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/my-named-function"
    assert unnamed["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/Unnamed"


def test_a_reserved_variable_in_the_template_is_ignored_and_reported(tmp_path):
    app = write_template(tmp_path, ENVIRONMENT_TEMPLATE, region="eu-west-1")

    assert lambda_environment(app.functions["Named"], "eu-west-1", "http://127.0.0.1:1")["AWS_REGION"] == "eu-west-1"
    assert reserved_in_template(app.functions["Named"]) == ["AWS_REGION"]
    assert reserved_in_template(app.functions["Unnamed"]) == []


def test_nothing_from_the_developers_shell_reaches_the_function(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_SHELL_SECRET", "x")
    app = write_template(tmp_path, ENVIRONMENT_TEMPLATE)

    assert "MY_SHELL_SECRET" not in lambda_environment(app.functions["Named"], "eu-west-1", "http://127.0.0.1:1")


# Pseudo parameters: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html
def test_the_region_flows_into_get_att_and_sub(tmp_path):
    environment = write_template(tmp_path, ENVIRONMENT_TEMPLATE, region="eu-west-1").functions["Named"].environment

    assert environment["TABLE_ARN"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/Table"
    assert environment["WHERE"] == "eu-west-1"


# samconfig.toml: [env.global.parameters] then [env.<command>.parameters], the command's winning.
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html
SAMCONFIG = """
version = 0.1
[default.global.parameters]
stack_name = "ignored"
region = "eu-west-1"
port = 1111

[default.local_start_api.parameters]
port = 5000
env_vars = "env.json"
parameter_overrides = {overrides}
warm_containers = "EAGER"

[default.deploy.parameters]
parameter_overrides = "FromDeploy=1"
"""


@pytest.mark.parametrize("overrides", ['"LogLevel=DEBUG Stage=dev"', '["LogLevel=DEBUG", "Stage=dev"]'])
def test_samconfig_supplies_local_start_api_settings(tmp_path, overrides):
    path = tmp_path / "samconfig.toml"
    path.write_text(SAMCONFIG.format(overrides=overrides))
    defaults = samconfig_defaults(path)

    assert (defaults["region"], defaults["port"], defaults["env_vars"]) == ("eu-west-1", 5000, "env.json")
    assert parse_parameter_overrides(defaults["parameter_overrides"]) == {"LogLevel": "DEBUG", "Stage": "dev"}
    assert defaults["warm_containers"] == "EAGER"
    assert set(defaults) == {"region", "port", "env_vars", "parameter_overrides", "warm_containers"}


def test_a_missing_samconfig_gives_no_defaults(tmp_path):
    assert samconfig_defaults(tmp_path / "samconfig.toml") == {}


def test_the_command_line_wins_over_samconfig(tmp_path):
    path = tmp_path / "samconfig.toml"
    path.write_text(SAMCONFIG.format(overrides='"A=1"'))

    options = parser(samconfig_defaults(path)).parse_args(["--port", "4000"])

    assert (options.port, options.region, options.env_vars) == (4000, "eu-west-1", "env.json")
    assert parser(samconfig_defaults(path)).parse_args([]).port == 5000
    assert (options.warm_containers, parser().parse_args([]).warm_containers) == ("EAGER", None)
    assert parser(samconfig_defaults(path)).parse_args(["--warm-containers", "lazy"]).warm_containers == "LAZY"


@pytest.mark.parametrize("argv", [["--warm-containers", "warm"], ["start-api", "--warm-containers", "cold"]])
def test_warm_containers_is_eager_or_lazy_in_any_case_as_sam_takes_it(argv, capsys):
    assert parser().parse_args(["--warm-containers", "Eager"]).warm_containers == "EAGER"
    with pytest.raises(SystemExit):
        parser().parse_args(argv)
    assert "is not EAGER or LAZY" in capsys.readouterr().err


# Reserved concurrency 0 stops every invocation: https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
def test_reserved_concurrency_zero_throttles_and_none_set_uses_the_dev_servers_cap(tmp_path):
    app = write_template(
        tmp_path,
        """
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: functions/fn/, Handler: app.handler, ReservedConcurrentExecutions: 0}
          Free:
            Type: AWS::Serverless::Function
            Properties: {CodeUri: functions/free/, Handler: app.handler}
        """,
        default_concurrency=3,
    )

    assert (app.functions["Fn"].concurrency, app.functions["Fn"].reserved) == (0, True)
    assert (app.functions["Free"].concurrency, app.functions["Free"].reserved) == (3, False)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "No such file or directory"),
        ("Resources:\n  Fn: {Type: AWS::Serverless::Function, Properties: {Path: /a/{id}}}\n", "expected ',' or '}'"),
        (
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Events:\n"
            "        Get: {Type: HttpApi, Properties: {Path: /a, Method: get, PayloadFormatVersion: '3.0'}}\n",
            "PayloadFormatVersion must be 1.0 or 2.0",
        ),
    ],
)
def test_a_template_that_cannot_start_is_one_clear_line_not_a_traceback(tmp_path, capsys, content, expected):
    from devserver.cli import main

    template = tmp_path / "template.yaml"
    if content is not None:
        template.write_text(content)

    assert main(["--template", str(template), "--cache-dir", str(tmp_path / "cache")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ")
    assert expected in error
    assert "Traceback" not in error


def test_a_debug_port_needs_the_function_when_the_template_has_several(tmp_path, capsys):
    from devserver.cli import main

    write_template(tmp_path, GLOBALS_TEMPLATE)

    assert main(["--template", str(tmp_path / "template.yaml"), "--debug-port", "5890"]) == 1
    assert capsys.readouterr().err.endswith(
        "\nerror: --debug-port debugs one function: add --debug-function with one of FnA, FnB\n"
    )


# Local secret values (secrets.local.json)

SECRETS_TEMPLATE = """
Resources:
  Generated:
    Type: AWS::SecretsManager::Secret
    Properties: {GenerateSecretString: {PasswordLength: 32}}
  Given:
    Type: AWS::SecretsManager::Secret
    Properties: {Description: a key the developer pastes in}
"""


def test_a_secret_added_to_the_template_is_added_to_the_local_file_and_old_values_stay(tmp_path):
    import json

    from devserver.aws import secret_values

    (tmp_path / "secrets.example.json").write_text(json.dumps({"Given": "from-the-example"}))
    (tmp_path / "secrets.local.json").write_text(json.dumps({"Generated": "kept-as-it-was"}))

    values = secret_values(write_template(tmp_path, SECRETS_TEMPLATE), tmp_path)

    assert values == {"Generated": "kept-as-it-was", "Given": "from-the-example"}
    assert json.loads((tmp_path / "secrets.local.json").read_text()) == values


def test_a_new_generated_secret_gets_a_random_value_once(tmp_path):
    from devserver.aws import secret_values

    app = write_template(
        tmp_path,
        SECRETS_TEMPLATE.replace("Given", "Other").replace(
            "{Description: a key", "{GenerateSecretString: {}, Description: a key"
        ),
    )

    first, again = secret_values(app, tmp_path), secret_values(app, tmp_path)

    assert first == again
    assert len(first["Generated"]) >= 32
    assert first["Generated"] != first["Other"]


def test_a_secret_without_any_value_is_one_clear_line_naming_it(tmp_path):
    from devserver.aws import secret_values

    with pytest.raises(ValueError, match=r"^secret Given has no value: set it in .*secrets\.local\.json$"):
        secret_values(write_template(tmp_path, SECRETS_TEMPLATE), tmp_path)

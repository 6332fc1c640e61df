"""Each worker gets what Lambda gives a function and nothing more: its code, its layers, its own requirements,
the runtime's boto3, the standard library, and Lambda's environment. What fails on AWS fails here first.

Search path: https://docs.aws.amazon.com/lambda/latest/dg/python-package.html#python-package-searchpath
Environment: https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
Context: https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.conftest import PROJECT, ROOT, DevServer, run_invoke, template_of

pytestmark = pytest.mark.devserver_only(reason="dev servers of their own and what their workers can import")

RUNTIME_BOTO3 = next(
    line.split("==")[1]
    for line in (ROOT / "devserver" / "runtime-requirements.txt").read_text().splitlines()
    if line.startswith("boto3==")
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """The test project, started from a shell that has a variable of its own: the workers must not see it."""
    target = tmp_path_factory.mktemp("sandbox") / "project"
    shutil.copytree(PROJECT, target)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MY_SHELL_SECRET", "from-the-developers-shell")
        server = DevServer(target / "template.yaml", target.parent / "devserver.log")
    yield server
    server.stop()


def echo(server: DevServer) -> dict:
    response = server.get("/echo/x")
    assert response.status_code == 200, server.output()
    return response.json()


def test_a_function_imports_only_the_stdlib_its_layers_and_the_runtimes_boto3(sandbox):
    result = echo(sandbox)

    # All of these are in the dev venv, none in Lambda: a worker cannot import them either.
    assert result["importable"]["requests"] is False
    assert result["importable"]["werkzeug"] is False
    assert result["importable"]["moto"] is False
    assert result["importable"]["yaml"] is False
    assert result["importable"]["pytest"] is False
    assert result["importable"]["devserver"] is False
    assert result["importable"]["idna"] is False  # CommonLayer's dependency; echo does not use that layer
    assert result["importable"]["extra"] is True  # ExtraLayer, given to every function by Globals
    assert result["importable"]["boto3"] is True
    assert result["boto3"] == RUNTIME_BOTO3  # the runtime's SDK, not the dev venv's
    code_dir = template_of(sandbox).parent / "functions" / "echo"
    assert result["sys_path"][0] == result["cwd"] == str(code_dir)
    assert not [path for path in result["sys_path"] if ".venv" in path or "site-packages" in path]


def test_an_undeclared_import_fails_at_init_with_lambdas_import_module_error(sandbox):
    response = sandbox.get("/undeclared")

    # What API Gateway answers for a function that fails: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-lambda.html
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert (
        "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'requests'"
        in sandbox.output()
    )


def test_invoke_reports_the_import_error_document_lambda_returns(sandbox, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"version": "2.0", "rawPath": "/undeclared", "headers": {}}))

    result = run_invoke("undeclared", event, template_of(sandbox))

    assert result.returncode == 1
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "errorMessage": "Unable to import module 'app': No module named 'requests'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }


def test_a_function_with_its_own_requirements_imports_them(sandbox):
    response = sandbox.get("/declared")

    assert response.status_code == 200, sandbox.output()
    assert response.text == "2.32.3"  # functions/declared/requirements.txt


def test_a_layers_dependencies_reach_the_functions_of_that_layer(sandbox):
    response = sandbox.get("/greeting", params={"full": "1"})

    # greeting.py from CommonLayer (built: BuildMethod), idna from its requirements.txt, extra.py from python/ of
    # ExtraLayer (not built), which Globals prepends to the function's own Layers.
    assert response.status_code == 200, sandbox.output()
    assert response.text == "hi extra idna 3.10"


def test_the_environment_is_lambdas_not_the_developers_shell(sandbox):
    first, second = echo(sandbox), echo(sandbox)
    environment, context = first["environment"], first["context"]

    assert "MY_SHELL_SECRET" not in environment
    assert "HOME" not in environment
    assert "VIRTUAL_ENV" not in environment
    assert not [name for name in environment if name.startswith("PYTHON")]
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/EchoFunction"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", environment["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environment["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert environment["_HANDLER"] == "app.lambda_handler"
    assert environment["LAMBDA_TASK_ROOT"] == first["cwd"]
    assert environment["TZ"] == ":UTC"
    assert environment["LANG"] == "en_US.UTF-8"
    assert environment["_X_AMZN_TRACE_ID"] == first["event"]["headers"]["x-amzn-trace-id"]
    assert environment["GREETING"] == "hello"  # the template's own variables are there too

    assert context["function_name"] == "EchoFunction"
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert context["memory_limit_in_mb"] == 256
    assert context["function_version"] == "$LATEST"
    assert context["log_stream_name"] == environment["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert context["aws_request_id"] != second["context"]["aws_request_id"]
    assert f"REPORT RequestId: {context['aws_request_id']}" in sandbox.output()


def test_a_second_start_installs_nothing(sandbox, tmp_path):
    again = DevServer(template_of(sandbox), tmp_path / "again.log")
    try:
        assert "Installing" not in again.output()
        assert again.get("/declared").text == "2.32.3"
    finally:
        again.stop()


def test_region_comes_from_the_flag_or_from_samconfig_next_to_the_template(project, start_server):
    flagged = start_server(project / "template.yaml", "--region", "eu-west-1")
    result = echo(flagged)
    assert result["environment"]["AWS_REGION"] == "eu-west-1"
    assert result["environment"]["TABLE_ARN"] == "arn:aws:dynamodb:eu-west-1:123456789012:table/ItemsTable"
    assert result["context"]["invoked_function_arn"].startswith("arn:aws:lambda:eu-west-1:123456789012:")
    flagged.stop()

    # As `sam local start-api` reads it: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html
    (project / "samconfig.toml").write_text(
        'version = 0.1\n[default.global.parameters]\nregion = "ap-south-1"\n'
        '[default.local_start_api.parameters]\nregion = "eu-west-2"\nparameter_overrides = "Greeting=bonjour"\n'
    )
    configured = start_server(project / "template.yaml")
    environment = echo(configured)["environment"]
    assert environment["AWS_REGION"] == "eu-west-2"
    assert environment["GREETING"] == "bonjour"


def test_editing_a_requirements_file_reinstalls_only_that_set(project, start_server):
    server = start_server(project / "template.yaml")
    assert server.get("/declared").text == "2.32.3"
    installs_before = server.output().count("Installing")

    # A comment no other run has written: a set this cache has never seen, however often the test runs.
    (project / "functions" / "declared" / "requirements.txt").write_text(f"requests==2.32.4  # {uuid.uuid4()}\n")
    started = time.monotonic()
    while server.get("/declared").text != "2.32.4":
        assert time.monotonic() - started < 120, server.output()
        time.sleep(0.2)

    new_installs = server.output().split("Installing")[installs_before + 1 :]
    assert len(new_installs) == 1  # not the layer's set, not the runtime's
    assert new_installs[0].split("(")[0].strip().endswith("functions/declared/requirements.txt")


# idna 3.10's wheel and sdist on PyPI, as `make lock` (uv pip compile --generate-hashes) writes them.
IDNA_LOCK = """\
idna==3.10 \\
    --hash=sha256:12f65c9b470abda6dc35cf8e63cc574b1c52b11df2c86030af0ac09b01b13ea9 \\
    --hash=sha256:946d195a0d259cbba61165e88e65941f16e9b36ea6ddb97f00452bae8b1287d3
"""


def test_a_hashed_lock_installs_and_a_hash_mismatch_stops_the_function(project, start_server):
    """The functions' requirements.txt are hashed locks (README: Dependencies): the dev server's pip checks them as
    sam build's does, and a file that does not match is never imported."""
    declared = project / "functions" / "declared"
    (declared / "app.py").write_text(
        "import idna\n\n\ndef lambda_handler(event, context):\n"
        '    return {"statusCode": 200, "body": idna.__version__, "headers": {"content-type": "text/plain"}}\n'
    )
    (declared / "requirements.txt").write_text(f"# {uuid.uuid4()}\n{IDNA_LOCK}")  # a set this cache has not seen
    server = start_server(project / "template.yaml")
    assert server.get("/declared").text == "3.10", server.output()

    # Neither file matches now (pip accepts a file that matches any hash of its line).
    tampered = re.sub(r"sha256:[0-9a-f]{8}", "sha256:00000000", IDNA_LOCK)
    (declared / "requirements.txt").write_text(f"# {uuid.uuid4()}\n{tampered}")
    started = time.monotonic()
    while "cannot start" not in server.output():
        assert time.monotonic() - started < 120, server.output()
        server.get("/declared")
        time.sleep(0.5)
    assert server.get("/declared").status_code >= 500
    assert "DO NOT MATCH THE HASHES" in server.output()

"""Read template.yaml as the source of truth: tables, secrets and functions, with the intrinsics we use resolved.

The test suite and the dev server both create their AWS resources from here, so no schema is written twice.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml when built
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) read as their long form."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: str | Path = "template.yaml") -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return template


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def create_tables(dynamodb: Any, template: dict[str, Any]) -> list[str]:
    """Create every AWS::DynamoDB::Table, named after its logical id as `sam local` resolves `!Ref`."""
    created = []
    for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items():
        properties = resource["Properties"]
        request: dict[str, Any] = {
            "TableName": logical_id,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "GlobalSecondaryIndexes" in properties:
            request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        dynamodb.create_table(**request)
        if "TimeToLiveSpecification" in properties:
            dynamodb.update_time_to_live(
                TableName=logical_id, TimeToLiveSpecification=properties["TimeToLiveSpecification"]
            )
        created.append(logical_id)
    return created


# --- Functions, routes and CORS, resolved the way `sam local start-api` resolves them ---------------------

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::Partition": "aws",
}


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # as declared, e.g. /api/posts/{id} or /api/{proxy+}
    function: str  # logical id

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    layer_dirs: tuple[Path, ...]
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    concurrency: int


@dataclass(frozen=True)
class App:
    """Everything the dev server needs from one template."""

    path: Path
    functions: dict[str, Function]
    routes: list[Route]
    cors: dict[str, Any] | None
    tables: list[str]
    buckets: dict[str, str]  # logical id -> bucket name
    secrets: dict[str, dict[str, Any]]  # logical id -> properties


def bucket_name(logical_id: str) -> str:
    # Bucket names must be lower case; `!Ref` to a bucket resolves to this same name.
    return logical_id.lower()


NO_VALUE = object()  # what `!Ref AWS::NoValue` resolves to: the property is dropped


class Resolver:
    """Resolve Ref, GetAtt, Sub, Join and If (with the template's Conditions) against parameters and local
    resource names."""

    def __init__(self, template: dict[str, Any], overrides: dict[str, str]) -> None:
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.conditions: dict[str, Any] = template.get("Conditions", {})
        self.values: dict[str, Any] = dict(PSEUDO_PARAMETERS)
        for name, spec in template.get("Parameters", {}).items():
            value = overrides.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = [item.strip() for item in value.split(",")]
            # CloudFormation hands every parameter over as a string (Fn::Equals compares "0" with "0").
            self.values[name] = value if isinstance(value, list) else str(value)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.values:
            return self.values[name]
        if self.resources.get(name, {}).get("Type") == "AWS::S3::Bucket":
            return bucket_name(name)
        return name  # a resource: sam local resolves !Ref to the logical id, and so do we

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.resources.get(name, {}).get("Type", "")
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{bucket_name(name)}"
        return f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{name}/{attribute}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Condition":
                return self.condition(argument)
            if key == "Fn::Equals":
                left, right = self.resolve(argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(argument[0])
            if key == "Fn::And":
                return all(self.resolve(item) for item in argument)
            if key == "Fn::Or":
                return any(self.resolve(item) for item in argument)
            if key == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {name: self.resolve(item) for name, item in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self.get_att(*name.split(".", 1))
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        return re.sub(r"\$\{([^!}][^}]*)\}", substitute, text)


def parse_parameter_overrides(text: str | None) -> dict[str, str]:
    """`Key=Value Key2=Value2` (or ParameterKey=..,ParameterValue=..), as `sam --parameter-overrides` takes."""
    overrides: dict[str, str] = {}
    for item in shlex.split(text or ""):
        if item.startswith("ParameterKey="):
            fields = dict(part.split("=", 1) for part in item.split(","))
            overrides[fields["ParameterKey"]] = fields.get("ParameterValue", "")
        elif "=" in item:
            key, value = item.split("=", 1)
            overrides[key] = value
    return overrides


def load_app(
    path: str | Path = "template.yaml",
    parameter_overrides: dict[str, str] | None = None,
    env_vars: dict[str, dict[str, str]] | None = None,
    default_concurrency: int = 4,
) -> App:
    """Read template.yaml into functions and routes; `env_vars` is SAM's env.json (logical id keys, `Parameters`)."""
    path = Path(path).resolve()
    root = path.parent
    template = load_template(path)
    resolver = Resolver(template, parameter_overrides or {})
    globals_ = resolver.resolve(template.get("Globals", {}).get("Function", {}))
    layers = {
        logical_id: root / resolver.resolve(resource["Properties"]["ContentUri"])
        for logical_id, resource in resources_of_type(template, "AWS::Serverless::LayerVersion").items()
    }
    env_vars = env_vars or {}
    functions: dict[str, Function] = {}
    routes: list[Route] = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        properties = {**globals_, **resolver.resolve(resource.get("Properties", {}))}
        environment = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **properties.get("Environment", {}).get("Variables", {}),
        }
        # env.json overrides only variables the template declares, as sam local does.
        for overrides in (env_vars.get("Parameters", {}), env_vars.get(logical_id, {})):
            environment.update({key: value for key, value in overrides.items() if key in environment})
        layer_dirs = []
        for layer in properties.get("Layers", []):
            layer_dir = layers.get(layer)
            if layer_dir is not None:
                layer_dirs.extend([layer_dir / "python", layer_dir] if (layer_dir / "python").is_dir() else [layer_dir])
        functions[logical_id] = Function(
            logical_id=logical_id,
            code_dir=root / properties.get("CodeUri", "."),
            handler=properties.get("Handler", "app.lambda_handler"),
            layer_dirs=tuple(layer_dirs),
            timeout=int(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
            environment={key: str(value) for key, value in environment.items()},
            concurrency=int(properties.get("ReservedConcurrentExecutions") or default_concurrency),
        )
        for event in properties.get("Events", {}).values():
            if event.get("Type") == "HttpApi":
                event_properties = event.get("Properties", {})
                method = str(event_properties.get("Method", "ANY")).upper()
                routes.append(Route(method, event_properties.get("Path", "/{proxy+}"), logical_id))
    apis = resources_of_type(template, "AWS::Serverless::HttpApi")
    cors = next((resolver.resolve(api["Properties"].get("CorsConfiguration")) for api in apis.values()), None)
    return App(
        path=path,
        functions=functions,
        routes=routes,
        cors=cors or None,
        tables=list(resources_of_type(template, "AWS::DynamoDB::Table")),
        buckets={logical_id: bucket_name(logical_id) for logical_id in resources_of_type(template, "AWS::S3::Bucket")},
        secrets={
            logical_id: resource.get("Properties", {})
            for logical_id, resource in resources_of_type(template, "AWS::SecretsManager::Secret").items()
        },
    )

"""Read template.yaml as the source of truth: tables, secrets and functions, with the intrinsics we use resolved.

The test suite and the dev server both create their AWS resources from here, so no schema is written twice.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from dataclasses import dataclass, field, replace
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


def read_template(path: str | Path = "template.yaml") -> dict[str, Any]:
    """The template as written: short tags in their long form, Fn::ForEach loops not expanded."""
    with open(path, encoding="utf-8") as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return template


def template_lines(path: str | Path = "template.yaml") -> dict[tuple[str | int, ...], int]:
    """The line (from 1) where each key of the template as written starts, by its path of keys and list indexes:
    ("Resources", "HealthFunction", "Properties") -> 538. So a check can say which line to change."""
    with open(path, encoding="utf-8") as handle:
        root = yaml.compose(handle, Loader=_CfnLoader)
    lines: dict[tuple[str | int, ...], int] = {}
    pending: list[tuple[tuple[str | int, ...], yaml.Node]] = [((), root)] if root is not None else []
    while pending:
        where, node = pending.pop()
        lines.setdefault(where, node.start_mark.line + 1)  # a key's own line, where it has one
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[(*where, key.value)] = key.start_mark.line + 1
                pending.append(((*where, key.value), value))
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(((*where, index), item) for index, item in enumerate(node.value))
    return lines


def load_template(
    path: str | Path = "template.yaml", parameter_overrides: dict[str, str] | None = None
) -> dict[str, Any]:
    """The template as CloudFormation hands it to the SAM transform: Fn::ForEach loops expanded (a collection that
    is a Ref to a CommaDelimitedList parameter takes its value from `parameter_overrides`, else the Default)."""
    return expand_foreach(read_template(path), parameter_overrides)


class TemplateError(ValueError):
    """Something in template.yaml the dev server cannot run the way AWS would: said plainly, never ignored."""


# --- Fn::ForEach, as the AWS::LanguageExtensions transform expands it before SAM's transform runs ---------------
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/transform-aws-languageextensions.html

FOREACH_PREFIX = "Fn::ForEach::"
_FOREACH_SECTIONS = ("Conditions", "Resources", "Outputs")  # the only sections a loop may be in


def expand_foreach(template: dict[str, Any], parameter_overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """A copy of the template with every Fn::ForEach expanded: in Conditions, Resources (and inside a resource) and
    Outputs, nested loops too. What CloudFormation would refuse, or what this does not know how to expand, is a
    TemplateError that names the loop; nothing is left half expanded."""
    if not isinstance(template, dict):
        return template
    for section, body in template.items():
        if section not in _FOREACH_SECTIONS and _has_foreach(body):
            raise TemplateError(f"Fn::ForEach is not allowed in {section}: only in {', '.join(_FOREACH_SECTIONS)}")
    if not any(_has_foreach(template.get(section)) for section in _FOREACH_SECTIONS):
        return template
    parameters = template.get("Parameters") or {}
    logical_ids = set((template.get("Resources") or {}).keys())
    expander = _ForEach(parameters, parameter_overrides or {}, logical_ids, template.get("Mappings") or {})
    expanded = dict(template)
    for section in _FOREACH_SECTIONS:
        if section in template:
            expanded[section] = expander.walk(template[section], [])
    return expanded


def _has_foreach(value: Any) -> bool:
    if isinstance(value, dict):
        return any(str(key).startswith(FOREACH_PREFIX) or _has_foreach(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_foreach(item) for item in value)
    return False


class _ForEach:
    def __init__(
        self, parameters: dict[str, Any], overrides: dict[str, str], logical_ids: set[str], mappings: dict[str, Any]
    ) -> None:
        self.parameters = parameters
        self.overrides = overrides
        self.logical_ids = logical_ids
        self.mappings = mappings

    def walk(self, value: Any, identifiers: list[str]) -> Any:
        """Expand the loops in value (whose enclosing loops bind `identifiers`, already substituted)."""
        if isinstance(value, list):
            return [self.walk(item, identifiers) for item in value]
        if not isinstance(value, dict):
            return value
        result: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key.startswith(FOREACH_PREFIX):
                for produced_key, produced in self.expand(key, item, identifiers).items():
                    if produced_key in result or produced_key in value:
                        raise TemplateError(f"{key} produces {produced_key!r}, which is already in the template")
                    result[produced_key] = produced
            else:
                if key in result:
                    raise TemplateError(f"{key!r} is produced by a Fn::ForEach and is also in the template")
                result[key] = self.walk(item, identifiers)
        return result

    def expand(self, key: str, loop: Any, identifiers: list[str]) -> dict[str, Any]:
        name = key[len(FOREACH_PREFIX) :]
        if not isinstance(loop, list) or len(loop) != 3:
            raise TemplateError(f"{key}: takes a list of three, [identifier, collection, {{output key: value}}]")
        identifier, collection, body = loop
        if not isinstance(identifier, str) or not re.fullmatch(r"[A-Za-z0-9]+", identifier):
            raise TemplateError(f"{key}: the identifier must be an alphanumeric string, not {identifier!r}")
        if identifier in self.parameters or identifier in identifiers:
            raise TemplateError(f"{key}: the identifier {identifier!r} is already a parameter or an outer loop's")
        if name in self.parameters or name in self.logical_ids:
            raise TemplateError(f"{key}: the loop's name {name!r} is already a parameter or a logical id")
        if not isinstance(body, dict) or not body:
            raise TemplateError(f"{key}: the third item must be a mapping of output keys to values")
        for output_key in body:
            placeholders = (f"${{{identifier}}}", f"&{{{identifier}}}")
            if not str(output_key).startswith(FOREACH_PREFIX) and not any(p in str(output_key) for p in placeholders):
                raise TemplateError(
                    f"{key}: the output key {output_key!r} must contain ${{{identifier}}} or &{{{identifier}}}"
                )
        result: dict[str, Any] = {}
        for item in self.collection(key, collection):
            produced = self.collapse(self.walk(_substitute(body, identifier, item), [*identifiers, identifier]))
            for produced_key, value in produced.items():
                if produced_key in result:
                    raise TemplateError(f"{key}: produces {produced_key!r} twice (two items of its collection?)")
                result[produced_key] = value
        return result

    def collection(self, key: str, collection: Any) -> list[str]:
        """A list, or a Ref to a CommaDelimitedList (or List<...>) parameter: the forms the docs allow."""
        if isinstance(collection, dict) and list(collection) == ["Ref"] and isinstance(collection["Ref"], str):
            parameter = self.parameters.get(collection["Ref"])
            kind = str((parameter or {}).get("Type", ""))
            if parameter is None or not (kind == "CommaDelimitedList" or kind.startswith("List<")):
                raise TemplateError(
                    f"{key}: the collection must Ref a CommaDelimitedList parameter, not {collection['Ref']!r}"
                )
            value = self.overrides.get(collection["Ref"], parameter.get("Default", ""))
            items = value if isinstance(value, list) else str(value).split(",")
            return [cfn_string(item).strip() for item in items if cfn_string(item).strip()]
        if isinstance(collection, list):
            for item in collection:
                if isinstance(item, (dict, list)) or item is None:
                    raise TemplateError(f"{key}: the collection's items must be strings, not {item!r}")
            return [cfn_string(item) for item in collection]
        form = next(iter(collection)) if isinstance(collection, dict) and collection else type(collection).__name__
        raise TemplateError(
            f"{key}: a collection given by {form} is not supported (only a list, or a Ref to a CommaDelimitedList)"
        )

    def collapse(self, value: Any) -> Any:
        """What the transform resolves once a loop's identifiers are substituted: a logical id built with Fn::Sub
        inside Ref or Fn::GetAtt (`Ref: !Sub "${Name}Function"`) becomes the plain logical id, and Fn::FindInMap with
        literal keys its value, or its DefaultValue when the map has none (a language extension).
        https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-findinmap-enhancements.html"""
        if isinstance(value, list):
            return [self.collapse(entry) for entry in value]
        if not isinstance(value, dict):
            return value
        value = {key: self.collapse(entry) for key, entry in value.items()}
        if list(value) == ["Ref"] and (name := _literal_sub(value["Ref"])) is not None:
            return {"Ref": name}
        if list(value) == ["Fn::GetAtt"] and isinstance(value["Fn::GetAtt"], list) and value["Fn::GetAtt"]:
            name = _literal_sub(value["Fn::GetAtt"][0])
            if name is not None:
                return {"Fn::GetAtt": [name, *value["Fn::GetAtt"][1:]]}
        if list(value) == ["Fn::FindInMap"]:
            return self.find_in_map(value)
        return value

    def find_in_map(self, value: dict[str, Any]) -> Any:
        arguments = value["Fn::FindInMap"]
        keys = arguments[:3] if isinstance(arguments, list) else []
        if len(keys) != 3 or not all(isinstance(key, (str, int)) for key in keys):
            return value  # a key CloudFormation knows only at deploy time (a parameter's value): left to it
        options = arguments[3] if len(arguments) > 3 and isinstance(arguments[3], dict) else {}
        top = self.mappings.get(str(keys[0]), {}).get(str(keys[1]), {})
        if str(keys[2]) in top:
            return top[str(keys[2])]
        if "DefaultValue" in options:
            return options["DefaultValue"]
        raise TemplateError(f"Fn::FindInMap {keys}: no such entry in Mappings, and no DefaultValue")


def _substitute(value: Any, identifier: str, item: str) -> Any:
    """${identifier} becomes the item and &{identifier} the item without its non-alphanumeric characters, in keys
    and strings alike; `Ref: identifier` becomes the item."""
    if isinstance(value, str):
        alphanumeric = re.sub(r"[^A-Za-z0-9]", "", item)
        return value.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", alphanumeric)
    if isinstance(value, list):
        return [_substitute(entry, identifier, item) for entry in value]
    if isinstance(value, dict):
        if list(value) == ["Ref"] and value["Ref"] == identifier:
            return item
        return {_substitute(k, identifier, item): _substitute(entry, identifier, item) for k, entry in value.items()}
    return value


def _literal_sub(value: Any) -> str | None:
    """The text of `{"Fn::Sub": text}` when it has nothing left to substitute."""
    if isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"] if "${" not in value["Fn::Sub"] else None
    return None


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }


def table_properties(
    template: dict[str, Any], parameter_overrides: dict[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Every AWS::DynamoDB::Table's properties by logical id, with its conditions (an index kept by `!If`) resolved."""
    resolver = Resolver(template, parameter_overrides or {})
    return {
        logical_id: resolver.resolve(resource.get("Properties", {}))
        for logical_id, resource in resources_of_type(template, "AWS::DynamoDB::Table").items()
    }


def create_tables(dynamodb: Any, tables: dict[str, dict[str, Any]]) -> list[str]:
    """Create each table of `tables` (table_properties), named after its logical id as `sam local` resolves `!Ref`."""
    created = []
    for logical_id, properties in tables.items():
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
DEFAULT_REGION = "us-east-1"
IMPLICIT_API = "ServerlessHttpApi"  # the HttpApi SAM creates for HttpApi events that name no ApiId
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
DEFAULT_ROUTE = "$default"
# API Gateway's longest wait for an integration (and TimeoutInMillis's default):
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html
MAX_INTEGRATION_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or ANY
    path: str  # as declared, e.g. /api/posts/{id} or /api/{proxy+}, or $default
    function: str  # logical id
    api: str = IMPLICIT_API  # logical id of its AWS::Serverless::HttpApi
    timeout_ms: int = MAX_INTEGRATION_TIMEOUT_MS  # the event's TimeoutInMillis
    payload_format: str = "2.0"  # the event's PayloadFormatVersion
    # The name of the authorizer (in its Api's `authorizers`) that guards it, after DefaultAuthorizer and
    # `Authorizer: NONE` are applied; None when the route is open.
    authorizer: str | None = None
    scopes: tuple[str, ...] = ()  # AuthorizationScopes a JWT authorizer requires (any one of them)

    @property
    def route_key(self) -> str:
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@dataclass(frozen=True)
class Layer:
    logical_id: str
    content_dir: Path
    build_method: str | None  # Metadata.BuildMethod: python3.13 has `sam build` install its requirements.txt

    @property
    def import_dirs(self) -> list[Path]:
        """Where its modules are in the source tree (what `sam build` puts under /opt/python)."""
        return [self.content_dir] if self.build_method else [self.content_dir / "python"]


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_dir: Path
    handler: str
    layers: tuple[Layer, ...]
    timeout: int
    memory_mb: int
    environment: dict[str, str]
    concurrency: int
    reserved: bool = False  # ReservedConcurrentExecutions set: past `concurrency` Lambda throttles
    name: str = ""  # FunctionName, else the logical id (as `sam local` names it)
    runtime: str = "python3.13"
    log_group: str = ""

    @property
    def layer_dirs(self) -> list[Path]:
        return [path for layer in self.layers for path in layer.import_dirs]


@dataclass(frozen=True)
class Authorizer:
    """One HTTP API authorizer: a JWT authorizer, or a Lambda (REQUEST) authorizer that is a function of the template.
    https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-access-control.html"""

    name: str
    kind: str  # "JWT" or "REQUEST"
    identity_source: tuple[str, ...]  # e.g. ("$request.header.Authorization",); empty: no caching key, always called
    issuer: str = ""  # JWT: the token's `iss`; its keys come from {issuer}/.well-known/openid-configuration
    audience: tuple[str, ...] = ()  # JWT: one of them must be the token's `aud` (or `client_id`)
    function: str = ""  # REQUEST: logical id of the authorizer function
    payload_format: str = "2.0"  # REQUEST: AuthorizerPayloadFormatVersion, "1.0" or "2.0"
    simple_responses: bool = False  # REQUEST: EnableSimpleResponses (2.0 only)
    ttl_seconds: int = 0  # REQUEST: AuthorizerResultTtlInSeconds (0: no caching)
    scopes: tuple[str, ...] = ()  # JWT: SAM's AuthorizationScopes of the authorizer, for routes that set none


@dataclass(frozen=True)
class Api:
    logical_id: str
    cors: dict[str, Any] | None  # CorsConfiguration
    stage: str = "$default"  # StageName; a named stage is the first segment of every path, as on AWS
    stage_variables: dict[str, str] = field(default_factory=dict)  # StageVariables, in the event's stageVariables
    authorizers: dict[str, Authorizer] = field(default_factory=dict)  # by name, as routes refer to them
    default_authorizer: str | None = None  # Auth.DefaultAuthorizer: guards every route that names none of its own


@dataclass(frozen=True)
class App:
    """Everything the dev server needs from one template."""

    path: Path
    functions: dict[str, Function]
    routes: list[Route]
    apis: dict[str, Api]
    tables: dict[str, Any]  # logical id -> properties, resolved
    buckets: dict[str, str]  # logical id -> bucket name
    secrets: dict[str, dict[str, Any]]  # logical id -> properties
    region: str = DEFAULT_REGION
    warnings: tuple[str, ...] = ()
    bucket_cors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # bucket name -> S3 CORSRules
    rotations: dict[str, Rotation] = field(default_factory=dict)  # secret logical id -> its rotation
    # The other files the routes come from (nested templates, DefinitionUri and AWS::Include files): an edit to
    # one reloads the template as an edit to `path` does.
    template_files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Rotation:
    """An AWS::SecretsManager::RotationSchedule whose RotationLambdaARN is a function of the template."""

    secret: str  # logical id
    function: str  # logical id
    rules: dict[str, Any]  # RotationRules


def bucket_name(logical_id: str) -> str:
    # Bucket names must be lower case; `!Ref` to a bucket resolves to this same name.
    return logical_id.lower()


# CloudFormation's CorsRule property names -> the S3 API's (PutBucketCors).
_CORS_KEYS = {"ExposedHeaders": "ExposeHeaders", "Id": "ID", "MaxAge": "MaxAgeSeconds"}


def s3_cors_rules(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """A bucket's CorsConfiguration as PutBucketCors takes it, so that the embedded S3 answers browsers as S3 will."""
    rules = (properties.get("CorsConfiguration") or {}).get("CorsRules") or []
    return [{_CORS_KEYS.get(key, key): value for key, value in rule.items()} for rule in rules]


NO_VALUE = object()  # what `!Ref AWS::NoValue` resolves to: the property is dropped


class Resolver:
    """Resolve Ref, GetAtt, Sub, Join and If (with the template's Conditions) against parameters and local
    resource names."""

    def __init__(self, template: dict[str, Any], overrides: dict[str, str], region: str = DEFAULT_REGION) -> None:
        self.region = region
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.conditions: dict[str, Any] = template.get("Conditions", {})
        self.values: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": "local",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        }
        for name, spec in template.get("Parameters", {}).items():
            value = overrides.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = [item.strip() for item in value.split(",")]
            # CloudFormation hands every parameter over as a string (Fn::Equals compares "0" with "0").
            self.values[name] = value if isinstance(value, list) else cfn_string(value)

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
            return f"arn:aws:dynamodb:{self.region}:{ACCOUNT_ID}:table/{name}"
        if kind in FUNCTION_TYPES and attribute == "Arn":
            # Lambda's own ARN, named as the dev server names the function: an integration URI built from it
            # (`${Fn.Arn}`, `!GetAtt Fn.Arn`) names the function the route invokes (devserver.apis).
            given = self.resources[name].get("Properties", {}).get("FunctionName")
            function_name = self.resolve(given) if given else name
            return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{function_name}"
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{bucket_name(name)}"
        return f"arn:aws:local:{self.region}:{ACCOUNT_ID}:{name}/{attribute}"

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
                return cfn_string(left) == cfn_string(right)
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


def cfn_string(value: Any) -> str:
    """A scalar as CloudFormation turns it into a string: YAML's true is "true", not Python's "True"."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's rules: maps merge (the resource's keys win), lists are the Globals' entries then the resource's,
    anything else is the resource's. https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-template-anatomy-globals.html"""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def load_app(
    path: str | Path = "template.yaml",
    parameter_overrides: dict[str, str] | None = None,
    env_vars: dict[str, dict[str, str]] | None = None,
    default_concurrency: int = 4,
    region: str = DEFAULT_REGION,
    *,
    parents: tuple[Path, ...] = (),
) -> App:
    """Read template.yaml into functions and routes; `env_vars` is SAM's env.json (logical id keys, `Parameters`).
    A nested stack's template is read the same way (`parents`: the templates that include it): devserver.stacks."""
    from devserver import apis as forms  # the other forms of HTTP API; both build on this module's model
    from devserver import stacks

    path = Path(path).resolve()
    root = path.parent
    template = load_template(path, parameter_overrides)
    resolver = Resolver(template, parameter_overrides or {}, region)
    globals_section = resolver.resolve(template.get("Globals", {}))
    check_http_api_globals(globals_section)
    warnings: list[str] = []
    stack = stacks.Stack(path, template, resolver, warnings)
    layers = {
        logical_id: Layer(
            logical_id,
            root / resolver.resolve(resource["Properties"]["ContentUri"]),
            (resource.get("Metadata") or {}).get("BuildMethod"),
        )
        for logical_id, resource in resources_of_type(template, "AWS::Serverless::LayerVersion").items()
    }
    layers.update(stacks.lambda_layers(stack))
    apis = {
        logical_id: http_api(logical_id, merge_globals(globals_section.get("HttpApi", {}), properties))
        for logical_id, resource in resources_of_type(template, "AWS::Serverless::HttpApi").items()
        for properties in [resolver.resolve(resource.get("Properties", {}))]
    }
    env_vars = env_vars or {}
    functions: dict[str, Function] = {}
    routes: list[Route] = []
    for logical_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        properties = merge_globals(
            globals_section.get("Function", {}), resolver.resolve(resource.get("Properties", {}))
        )
        if not (root / properties.get("CodeUri", ".")).is_dir():
            warnings.append(f"{logical_id}: CodeUri {properties.get('CodeUri')} is not a directory (yet)")
        functions[logical_id] = make_function(
            logical_id,
            properties,
            root / properties.get("CodeUri", "."),
            layers,
            env_vars,
            default_concurrency,
            warnings,
        )
        for event_id, event in properties.get("Events", {}).items():
            if event.get("Type") == "HttpApi":
                route = http_api_route(logical_id, event_id, event.get("Properties", {}))
                if route.api not in apis:  # events without ApiId: SAM creates the implicit API
                    apis[route.api] = http_api(route.api, globals_section.get("HttpApi", {}))
                auth = (event.get("Properties") or {}).get("Auth")
                if guarded_by_iam(apis[route.api], auth):  # never served open: named, and left out
                    stack.refuse(
                        f"{logical_id} event {event_id}",
                        "IAM authorization (SigV4), which the dev server does not check: not served",
                    )
                    continue
                routes.append(route_auth(route, apis[route.api], auth, f"{logical_id} event {event_id}"))
    functions.update(stacks.lambda_functions(stack, layers, env_vars, default_concurrency))
    routes = forms.definition_routes(stack, apis, routes, functions)
    routes += forms.cloudformation_routes(stack, apis, functions)
    stacks.refuse_what_cannot_be_served(stack)
    children = stacks.nested_stacks(
        stack,
        lambda child, parameters, child_env_vars: load_app(
            child, parameters, child_env_vars, default_concurrency, region, parents=(*parents, path)
        ),
        env_vars,
        parents,
    )
    for child in children:
        functions.update(child.functions)
        routes += child.routes
        apis.update(child.apis)
    routes = stacks.servable(stack, routes, functions, apis)
    duplicates = {key for key, count in Counter(route.route_key for route in routes).items() if count > 1}
    if duplicates:
        # Each HttpApi has a host of its own on AWS; the dev server serves them all on one port.
        raise TemplateError(f"route {sorted(duplicates)[0]!r} is declared more than once (in one or several HttpApis)")
    return App(
        path=path,
        functions=functions,
        routes=routes,
        apis=authorizer_functions(apis, functions),
        tables=table_properties(template, parameter_overrides),
        buckets={logical_id: bucket_name(logical_id) for logical_id in resources_of_type(template, "AWS::S3::Bucket")},
        bucket_cors={
            bucket_name(logical_id): rules
            for logical_id, resource in resources_of_type(template, "AWS::S3::Bucket").items()
            if (rules := s3_cors_rules(resolver.resolve(resource.get("Properties", {}))))
        },
        secrets={
            logical_id: resource.get("Properties", {})
            for logical_id, resource in resources_of_type(template, "AWS::SecretsManager::Secret").items()
        },
        region=region,
        warnings=tuple(warnings),
        rotations=rotations(template, resolver, functions),
        template_files=tuple(stack.files),
    )


def make_function(
    logical_id: str,
    properties: dict[str, Any],
    code_dir: Path,
    layers: dict[str, Layer],
    env_vars: dict[str, dict[str, str]],
    default_concurrency: int,
    warnings: list[str],
) -> Function:
    """A function from its resolved properties: an AWS::Serverless::Function's (Globals merged in) or an
    AWS::Lambda::Function's, which share these names."""
    environment = dict(properties.get("Environment", {}).get("Variables", {}))
    name = str(properties.get("FunctionName") or logical_id)
    # env.json overrides only variables the template declares, as sam local does; a function's own section
    # may be keyed by its logical id or its FunctionName.
    for overrides in (env_vars.get("Parameters", {}), env_vars.get(name, {}), env_vars.get(logical_id, {})):
        environment.update({key: value for key, value in overrides.items() if key in environment})
    function_layers = []
    for layer in properties.get("Layers", []):
        if layer in layers:
            function_layers.append(layers[layer])
        else:
            warnings.append(f"{logical_id}: layer {layer} is not in this template, so it is missing locally")
    return Function(
        logical_id=logical_id,
        code_dir=code_dir,
        handler=properties.get("Handler", "app.lambda_handler"),
        layers=tuple(function_layers),
        timeout=int(properties.get("Timeout", 3)),
        memory_mb=int(properties.get("MemorySize", 128)),
        environment={key: cfn_string(value) for key, value in environment.items()},
        # 0 reserves nothing and so throttles every call, as on Lambda.
        concurrency=int(properties.get("ReservedConcurrentExecutions", default_concurrency)),
        reserved="ReservedConcurrentExecutions" in properties,
        name=name,
        runtime=str(properties.get("Runtime", "python3.13")),
        log_group=str((properties.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}"),
    )


def rotations(template: dict[str, Any], resolver: Resolver, functions: dict[str, Function]) -> dict[str, Rotation]:
    """The rotation schedules that rotate a secret of the template with a function of the template, and that AWS runs
    as soon as they are created (RotateImmediatelyOnUpdate, true unless set to false)."""
    found = {}
    for resource in resources_of_type(template, "AWS::SecretsManager::RotationSchedule").values():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        properties = resource.get("Properties", {})
        target = properties.get("RotationLambdaARN")  # !GetAtt Fn.Arn, as the ARN is written
        getatt = target.get("Fn::GetAtt") if isinstance(target, dict) else None
        function = (getatt if isinstance(getatt, list) else str(getatt).split("."))[0]
        secret = resolver.resolve(properties.get("SecretId"))
        rotate_now = cfn_string(resolver.resolve(properties.get("RotateImmediatelyOnUpdate", True))) == "true"
        if function in functions and isinstance(secret, str) and rotate_now:
            found[secret] = Rotation(secret, function, resolver.resolve(properties.get("RotationRules", {})))
    return found


def http_api(logical_id: str, properties: dict[str, Any]) -> Api:
    stage, variables = http_api_stage(logical_id, properties)
    authorizers, default = http_api_auth(logical_id, properties.get("Auth"))
    return Api(logical_id, properties.get("CorsConfiguration") or None, stage, variables, authorizers, default)


# A stage name is $default, or letters, digits, - and _ (up to 128): AWS::ApiGatewayV2::Stage StageName.
_STAGE_NAME = re.compile(r"\$default|[A-Za-z0-9_-]{1,128}")


def http_api_stage(logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """StageName (SAM's default: API Gateway's $default stage, served at the root of the URL) and StageVariables.
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-httpapi.html"""
    stage = cfn_string(properties.get("StageName") or "$default")
    if not _STAGE_NAME.fullmatch(stage):
        raise TemplateError(f"{logical_id}: StageName {stage!r} is not $default or letters, digits, - and _")
    variables = properties.get("StageVariables") or {}
    if not isinstance(variables, dict):
        raise TemplateError(f"{logical_id}: StageVariables must be a map of names to values")
    return stage, {str(name): cfn_string(value) for name, value in variables.items()}


def check_http_api_globals(globals_section: dict[str, Any]) -> None:
    """SAM refuses a Globals.HttpApi property it does not merge; StageName is the one a template is likely to try.
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-template-anatomy-globals.html"""
    if "StageName" in (globals_section.get("HttpApi") or {}):
        raise TemplateError(
            "Globals.HttpApi: StageName is not a property SAM takes from Globals; set it on the HttpApi"
        )


# SAM's Identity of a Lambda authorizer, flattened to identity source expressions in this order.
_IDENTITY_PREFIXES = (
    ("Headers", "$request.header."),
    ("QueryStrings", "$request.querystring."),
    ("StageVariables", "$stageVariables."),
    ("Context", "$context."),
)
_JWT_IDENTITY = re.compile(r"\$request\.(header|querystring)\.[^.\s]+")


def http_api_auth(logical_id: str, auth: Any) -> tuple[dict[str, Authorizer], str | None]:
    """An HttpApi's Auth: its Authorizers (OAuth2/JWT, or Lambda REQUEST) and DefaultAuthorizer, refused where SAM
    refuses them. https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-httpapi-httpapiauth.html"""
    if not auth:
        return {}, None
    if not isinstance(auth, dict):
        raise TemplateError(f"{logical_id}: Auth must be a map")
    authorizers = {
        str(name): http_api_authorizer(f"{logical_id} Auth.Authorizers.{name}", str(name), spec)
        for name, spec in (auth.get("Authorizers") or {}).items()
    }
    default = auth.get("DefaultAuthorizer")
    if default is not None and str(default) not in (*authorizers, IAM):
        raise TemplateError(f"{logical_id}: DefaultAuthorizer {default!r} is not one of its Auth.Authorizers")
    return authorizers, None if default is None else str(default)


def http_api_authorizer(where: str, name: str, spec: Any) -> Authorizer:
    """One of Auth.Authorizers: a JWT authorizer (JwtConfiguration, IdentitySource) or a Lambda one (FunctionArn,
    AuthorizerPayloadFormatVersion, Identity). `function` is what FunctionArn names; load_app makes it a logical id.
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-httpapi-oauth2authorizer.html
    https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-httpapi-lambdaauthorizer.html"""
    if not isinstance(spec, dict):
        raise TemplateError(f"{where}: must be a map")
    if "JwtConfiguration" in spec:
        # issuer and audience in either case: OpenAPI's lower case or AWS::ApiGatewayV2::Authorizer's.
        jwt = {str(key).lower(): value for key, value in (spec["JwtConfiguration"] or {}).items()}
        source = str(spec.get("IdentitySource") or "")
        if not _JWT_IDENTITY.fullmatch(source):
            raise TemplateError(
                f"{where}: IdentitySource must be one $request.header.<name> or $request.querystring.<name>"
            )
        audience = jwt.get("audience") or []
        audience = [audience] if isinstance(audience, str) else audience
        if not jwt.get("issuer") or not audience:
            raise TemplateError(f"{where}: JwtConfiguration needs an issuer and an audience")
        return Authorizer(
            name,
            "JWT",
            (source,),
            issuer=str(jwt["issuer"]),
            audience=tuple(str(entry) for entry in audience),
            scopes=tuple(str(scope) for scope in spec.get("AuthorizationScopes") or ()),
        )
    if not spec.get("FunctionArn"):
        raise TemplateError(f"{where}: a Lambda authorizer needs FunctionArn (or JwtConfiguration for a JWT one)")
    version = cfn_string(spec.get("AuthorizerPayloadFormatVersion", ""))
    if version not in ("1.0", "2.0"):
        raise TemplateError(f"{where}: AuthorizerPayloadFormatVersion must be 1.0 or 2.0, not {version or 'missing'}")
    simple = cfn_string(spec.get("EnableSimpleResponses", False)) == "true"
    if simple and version != "2.0":
        raise TemplateError(f"{where}: EnableSimpleResponses needs AuthorizerPayloadFormatVersion 2.0")
    identity = spec.get("Identity") or {}
    if not isinstance(identity, dict):
        raise TemplateError(f"{where}: Identity must be a map")
    sources = tuple(prefix + str(value) for key, prefix in _IDENTITY_PREFIXES for value in identity.get(key) or ())
    ttl = identity.get("ReauthorizeEvery", 0)
    if not str(ttl).isdigit() or int(ttl) > 3600:
        raise TemplateError(f"{where}: Identity.ReauthorizeEvery must be 0..3600 seconds, not {ttl}")
    if int(ttl) and not sources:
        raise TemplateError(f"{where}: caching (ReauthorizeEvery) needs at least one identity source to key it by")
    return Authorizer(
        name,
        "REQUEST",
        sources,
        function=cfn_string(spec["FunctionArn"]),
        payload_format=version,
        simple_responses=simple,
        ttl_seconds=int(ttl),
    )


def function_of_arn(arn: str, functions: dict[str, Function]) -> str | None:
    """The logical id of the template's function an ARN names: `!GetAtt Fn.Arn` as the resolver writes it, a Lambda
    function ARN (with or without a version or alias), or a bare logical id or FunctionName."""
    found = re.fullmatch(r"arn:aws:local:[^:]*:[^:]*:([^/]+)/Arn", arn) or re.fullmatch(
        r"arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(:[^:]+)?", arn
    )
    name = found.group(1) if found else arn
    if name in functions:
        return name
    return next((logical_id for logical_id, function in functions.items() if function.name == name), None)


def authorizer_functions(apis: dict[str, Api], functions: dict[str, Function]) -> dict[str, Api]:
    """Every Lambda authorizer's FunctionArn as the logical id of a function of the template, which the dev server
    runs; one outside the template cannot run locally, and says so."""
    resolved = {}
    for logical_id, api in apis.items():
        authorizers = {}
        for name, authorizer in api.authorizers.items():
            if authorizer.kind == "REQUEST":
                function = function_of_arn(authorizer.function, functions)
                if function is None:
                    raise TemplateError(
                        f"{logical_id} Auth.Authorizers.{name}: FunctionArn {authorizer.function} is not a function "
                        "of this template, so it cannot run locally"
                    )
                authorizer = replace(authorizer, function=function)
            authorizers[name] = authorizer
        resolved[logical_id] = replace(api, authorizers=authorizers)
    return resolved


IAM = "AWS_IAM"  # SAM's name for IAM authorization (SigV4-signed requests), which the dev server does not check


def guarded_by_iam(api: Api, auth: Any) -> bool:
    """Whether an HttpApi event's route takes IAM authorization: its own Auth.Authorizer, or its API's default."""
    named = auth.get("Authorizer") if isinstance(auth, dict) else None
    return named == IAM or (named is None and api.default_authorizer == IAM)


def route_auth(route: Route, api: Api, auth: Any, where: str) -> Route:
    """The authorizer and scopes of one HttpApi event, as SAM applies them: the event's Auth.Authorizer, else the
    API's DefaultAuthorizer; NONE opens the route (only where there is a default to open it from); the event's
    AuthorizationScopes, else its JWT authorizer's own. https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-httpapifunctionauth.html"""
    auth = auth or {}
    if not isinstance(auth, dict):
        raise TemplateError(f"{where}: Auth must be a map")
    named = auth.get("Authorizer")
    if named == "NONE":
        if api.default_authorizer is None:
            raise TemplateError(f"{where}: Authorizer NONE is only valid when its HttpApi has a DefaultAuthorizer")
        return replace(route, authorizer=None, scopes=())
    if auth and named is None and api.default_authorizer is None:
        raise TemplateError(f"{where}: Auth needs an Authorizer, or a DefaultAuthorizer on its HttpApi")
    name = str(named) if named is not None else api.default_authorizer
    if name is None:
        return route
    if name not in api.authorizers:
        raise TemplateError(f"{where}: Authorizer {name!r} is not one of {api.logical_id}'s Auth.Authorizers")
    authorizer = api.authorizers[name]
    scopes = tuple(str(scope) for scope in auth.get("AuthorizationScopes") or ()) or authorizer.scopes
    if scopes and authorizer.kind != "JWT":
        # "Authorization Scopes are only valid for COGNITO_USER_POOLS and JWT authorization types" (API Gateway).
        raise TemplateError(f"{where}: AuthorizationScopes apply to JWT authorizers only, not to Lambda {name!r}")
    return replace(route, authorizer=name, scopes=scopes)


def http_api_route(function: str, event_id: str, properties: dict[str, Any]) -> Route:
    """One HttpApi event. Without Path and Method it is the API's $default route, which catches what no other
    route matches. https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html"""
    where = f"{function} event {event_id}"
    version = str(properties.get("PayloadFormatVersion", "2.0"))
    if version not in ("1.0", "2.0"):
        raise TemplateError(f"{where}: PayloadFormatVersion must be 1.0 or 2.0 (HttpApi's default), not {version}")
    timeout = properties.get("TimeoutInMillis", MAX_INTEGRATION_TIMEOUT_MS)
    timeout_ms = int(timeout) if str(timeout).isdigit() else -1
    if not 50 <= timeout_ms <= MAX_INTEGRATION_TIMEOUT_MS:
        raise TemplateError(f"{where}: TimeoutInMillis must be 50..30000 (HTTP API's limit), not {timeout}")
    api = properties.get("ApiId") or IMPLICIT_API
    if "Path" not in properties and "Method" not in properties:
        return Route("ANY", DEFAULT_ROUTE, function, api, timeout_ms, version)
    method = str(properties.get("Method", "ANY")).upper()
    method = "ANY" if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" else method
    return Route(method, str(properties.get("Path", "/")), function, api, timeout_ms, version)

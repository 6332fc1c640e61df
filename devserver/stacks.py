"""A template as the dev server reads it (Stack), and what is the same for every form of HTTP API: the functions
of plain CloudFormation (AWS::Lambda::Function and AWS::Lambda::LayerVersion, code in a directory here, CDK's
assets in cdk.out included), nested stacks (AWS::Serverless::Application, AWS::CloudFormation::Stack) whose template
is a local file, and what has routes the dev server does not serve (a REST API, a function URL, a remote template,
a function of another runtime than Python): each named once in App.warnings with its logical id and the reason, as
the rest is served. The routes themselves are devserver.template's (HttpApi events) and devserver.apis' (the other
forms)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from devserver.template import (
    Api,
    App,
    Function,
    Layer,
    Resolver,
    Route,
    TemplateError,
    cfn_string,
    make_function,
)

NESTED_STACK_TYPES = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")
REMOTE = re.compile(r"^(s3|https?)://", re.IGNORECASE)  # a location that is not a file here


@dataclass
class Stack:
    """One template as it is read: its resources, resolved against its parameters; what it refuses; the other
    files its routes come from."""

    path: Path
    template: dict[str, Any]
    resolver: Resolver
    warnings: list[str]
    files: list[Path] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.path.parent

    def resources(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, resource) of these types, leaving out those whose Condition is false, as CloudFormation
        creates none of them."""
        for logical_id, resource in (self.template.get("Resources") or {}).items():
            if isinstance(resource, dict) and resource.get("Type") in types and self.created(resource):
                yield logical_id, resource

    def created(self, resource: dict[str, Any]) -> bool:
        condition = resource.get("Condition")
        return condition not in self.resolver.conditions or self.resolver.condition(condition)

    def properties(self, resource: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = self.resolver.resolve(resource.get("Properties") or {})
        return properties

    def refuse(self, where: str, reason: str) -> None:
        self.warnings.append(f"{where}: {reason}")


# --- AWS::Lambda::Function and AWS::Lambda::LayerVersion ----------------------------------------------------------


def local_code(stack: Stack, resource: dict[str, Any], properties: dict[str, Any], name: str) -> Path | None:
    """Where a function's Code (or a layer's Content) is on this machine: CDK's asset (`aws:asset:path`, relative to
    cdk.out, the synthesized template's directory, for the property `aws:asset:property` names), or a local path
    as `sam package` and `aws cloudformation package` take it. None: in S3 only."""
    metadata = resource.get("Metadata") or {}
    asset = metadata.get("aws:asset:path")
    if metadata.get("aws:asset:property") == name and isinstance(asset, str):
        return stack.root / asset
    value = properties.get(name)
    return stack.root / value if isinstance(value, str) else None


def lambda_layers(stack: Stack) -> dict[str, Layer]:
    """AWS::Lambda::LayerVersion resources whose Content is here: a layer as its zip lays it out (python/...)."""
    layers = {}
    for logical_id, resource in stack.resources("AWS::Lambda::LayerVersion"):
        content = local_code(stack, resource, stack.properties(resource), "Content")
        if content is None or not content.is_dir():
            stack.refuse(logical_id, "its Content is not a directory on this machine (in S3, or a .zip): not loaded")
            continue
        layers[logical_id] = Layer(logical_id, content, None)
    return layers


def lambda_functions(
    stack: Stack, layers: dict[str, Layer], env_vars: dict[str, dict[str, str]], default_concurrency: int
) -> dict[str, Function]:
    """AWS::Lambda::Function resources whose code is a directory here, with the same limits, environment and layers
    as an AWS::Serverless::Function (no Globals: they are SAM's)."""
    functions = {}
    for logical_id, resource in stack.resources("AWS::Lambda::Function"):
        properties = stack.properties(resource)
        code = properties.get("Code")
        if properties.get("PackageType") == "Image" or (isinstance(code, dict) and "ImageUri" in code):
            stack.refuse(logical_id, "a container image function: the dev server runs zip functions only")
            continue
        if isinstance(code, dict) and "ZipFile" in code:
            stack.refuse(logical_id, "its code is inline (Code.ZipFile): the dev server runs code from a directory")
            continue
        code_dir = local_code(stack, resource, properties, "Code")
        if code_dir is None:
            stack.refuse(
                logical_id,
                "its code is in S3 (Code.S3Bucket, S3Key) with no local asset (Metadata aws:asset:path): not loaded",
            )
            continue
        if code_dir.is_file():
            stack.refuse(logical_id, f"its code {code_dir} is a file (a .zip?): the dev server runs a directory")
            continue
        if not code_dir.is_dir():
            stack.refuse(logical_id, f"its code {code_dir} is not a directory (yet)")
        if not properties.get("Handler"):
            stack.refuse(logical_id, "has no Handler, which a zip function needs: not loaded")
            continue
        functions[logical_id] = make_function(
            logical_id, properties, code_dir, layers, env_vars, default_concurrency, stack.warnings
        )
    return functions


# --- what has routes the dev server does not serve -----------------------------------------------------------------


def refuse_what_cannot_be_served(stack: Stack) -> None:
    """REST APIs and their events, function URLs, API Gateway's managed overrides: each named once."""
    for logical_id, _ in stack.resources("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
        stack.refuse(
            logical_id,
            "a REST API: the dev server serves HTTP APIs only (AWS::Serverless::HttpApi, "
            "AWS::ApiGatewayV2::Api): none of its routes is served",
        )
    global_url = "FunctionUrlConfig" in ((stack.template.get("Globals") or {}).get("Function") or {})
    for logical_id, resource in stack.resources("AWS::Serverless::Function"):
        properties = resource.get("Properties") or {}
        for event_id, event in (properties.get("Events") or {}).items():
            if isinstance(event, dict) and event.get("Type") == "Api":
                stack.refuse(
                    logical_id,
                    f"its event {event_id} is an Api event, a REST API's route: not served (an HttpApi event is)",
                )
        if global_url or "FunctionUrlConfig" in properties:
            stack.refuse(
                logical_id, "its function URL (FunctionUrlConfig) is not served: the dev server serves API routes only"
            )
    for logical_id, _ in stack.resources("AWS::Lambda::Url"):
        stack.refuse(logical_id, "a function URL: not served; the dev server serves API routes only")
    for logical_id, _ in stack.resources("AWS::ApiGatewayV2::ApiGatewayManagedOverrides"):
        stack.refuse(logical_id, "API Gateway's managed overrides of a quick-created API are not applied here")


# --- nested stacks ----------------------------------------------------------------------------------------------


def nested_stacks(
    stack: Stack,
    load: Callable[[Path, dict[str, str], dict[str, dict[str, str]]], App],
    env_vars: dict[str, dict[str, str]],
    parents: tuple[Path, ...],
) -> list[App]:
    """Each AWS::Serverless::Application (Location) and AWS::CloudFormation::Stack (TemplateURL) whose template is a
    local file, read with the Parameters its parent passes (resolved in the parent), its logical ids prefixed with
    the nested stack's (`Child/Function`), as `sam local` names them. A remote template (S3, https, the Serverless
    Application Repository) is named, as sam local names it."""
    children = []
    for logical_id, resource in stack.resources(*NESTED_STACK_TYPES):
        properties = stack.properties(resource)
        name = "Location" if resource["Type"] == "AWS::Serverless::Application" else "TemplateURL"
        metadata = resource.get("Metadata") or {}
        if metadata.get("aws:asset:property") == name and isinstance(metadata.get("aws:asset:path"), str):
            location = metadata["aws:asset:path"]  # CDK's NestedStack: its template is an asset in cdk.out
        else:
            location = properties.get(name)
        if not isinstance(location, str) or REMOTE.match(location):
            where = "the Serverless Application Repository" if isinstance(location, dict) else location
            stack.refuse(logical_id, f"a nested stack whose template is remote ({where}): none of its routes is served")
            continue
        path = Path(unquote(urlparse(location).path)) if location.startswith("file://") else stack.root / location
        path = path.resolve()
        if not path.is_file():
            stack.refuse(
                logical_id, f"a nested stack whose template {location} is not a file: none of its routes is served"
            )
            continue
        if path in (*parents, stack.path):
            raise TemplateError(f"{logical_id}: the nested stack {location} is a template that includes it")
        parameters = {
            name: ",".join(map(cfn_string, value)) if isinstance(value, list) else cfn_string(value)
            for name, value in (properties.get("Parameters") or {}).items()
        }
        # env.json may name a nested function by its logical id, or by its full path (Child/Function).
        prefix = f"{logical_id}/"
        child_env_vars = {key.removeprefix(prefix): value for key, value in env_vars.items() if key.startswith(prefix)}
        try:
            child = load(path, parameters, {**child_env_vars, **env_vars})
        except TemplateError as error:
            raise TemplateError(f"{logical_id} ({location}): {error}") from error
        stack.files += [path, *child.template_files]
        children.append(prefixed(stack, logical_id, child))
    return children


def prefixed(stack: Stack, name: str, child: App) -> App:
    """A nested stack's functions, APIs and routes under `name/` logical ids; its warnings to the parent's. Its
    tables, buckets and secrets are named: only the root template's are created."""

    def full(logical_id: str) -> str:
        return f"{name}/{logical_id}"

    stack.warnings += [full(warning) for warning in child.warnings]
    for kind, logical_ids in (("table", child.tables), ("bucket", child.buckets), ("secret", child.secrets)):
        for logical_id in logical_ids:
            stack.refuse(
                full(logical_id),
                f"a nested stack's {kind}, which the dev server does not create (it creates the root template's)",
            )
    return dataclasses.replace(
        child,
        functions={
            full(logical_id): dataclasses.replace(function, logical_id=full(logical_id))
            for logical_id, function in child.functions.items()
        },
        routes=[
            dataclasses.replace(route, function=full(route.function), api=full(route.api)) for route in child.routes
        ],
        apis={
            full(logical_id): dataclasses.replace(
                api,
                logical_id=full(logical_id),
                authorizers={
                    key: dataclasses.replace(authorizer, function=full(authorizer.function))
                    if authorizer.function
                    else authorizer
                    for key, authorizer in api.authorizers.items()
                },
            )
            for logical_id, api in child.apis.items()
        },
        tables={},
        buckets={},
        secrets={},
        bucket_cors={},
        rotations={},
        warnings=(),
    )


def servable(stack: Stack, routes: list[Route], functions: dict[str, Function], apis: dict[str, Api]) -> list[Route]:
    """Leave out the functions the dev server cannot run (another runtime than Python, SAM's InlineCode), and name the
    routes that go with them, or with an authorizer that is one of them: a request would otherwise meet a worker that
    cannot import its handler."""
    inline = {
        logical_id
        for logical_id, resource in stack.resources("AWS::Serverless::Function")
        if "InlineCode" in (resource.get("Properties") or {})
    }
    refused = set()
    for logical_id, function in list(functions.items()):
        if not function.runtime.startswith("python"):
            stack.refuse(logical_id, f"its runtime is {function.runtime}: the dev server runs Python functions only")
        elif logical_id in inline:
            stack.refuse(logical_id, "its code is inline (InlineCode): the dev server runs code from a directory")
        else:
            continue
        refused.add(logical_id)
        del functions[logical_id]
    kept = []
    for route in routes:
        api = apis.get(route.api)
        authorizer = api.authorizers.get(route.authorizer) if api is not None and route.authorizer else None
        if route.function in refused:
            stack.refuse(f"{route.api} {route.route_key}", f"not served, as its function {route.function} is not")
        elif authorizer is not None and authorizer.function in refused:
            stack.refuse(
                f"{route.api} {route.route_key}",
                f"not served, as its authorizer's function {authorizer.function} is not",
            )
        else:
            kept.append(route)
    return kept

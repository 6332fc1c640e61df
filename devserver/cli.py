"""`python -m devserver` (behind `make dev`): a Docker-free `sam local start-api` and `sam local invoke`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from devserver.aws import LocalAws, MotoServer, secret_values, unset_secrets, update_secret_values
from devserver.gateway import Gateway
from devserver.persist import GroupCommit
from devserver.pool import INIT_TIMEOUT_SECONDS, FunctionPool, Invocation, debugpy_location, print_line, stop_workers
from devserver.rotation import RotationError, rotate, rotations_due
from devserver.runtime import DEFAULT_CACHE, Dependencies, lambda_environment, reserved_in_template
from devserver.server import CLIENT_TIMEOUT_SECONDS, HEAD_DEADLINE_SECONDS, HttpServer
from devserver.template import DEFAULT_REGION, App, TemplateError, load_app, parse_parameter_overrides
from devserver.watcher import Watcher

log = print_line
DEFAULT_STATIC_DIR = "public"  # sam local start-api's default


def say_if_broken(pool: FunctionPool) -> None:
    if pool.broken:
        log(f"error: {pool.function.logical_id} cannot start until this is fixed: {pool.broken}")


class DevServer:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.template_path = Path(options.template).resolve()
        self.root = self.template_path.parent
        self.overrides = parse_parameter_overrides(options.parameter_overrides)
        self.env_vars: dict[str, dict[str, str]] = (
            json.loads(Path(options.env_vars).read_text()) if options.env_vars else {}
        )
        self.app = self._load()
        self.warn(self.app)
        self.eager = getattr(options, "warm_containers", None) == "EAGER"
        self.debug_function = self._debug_function()
        self.dependencies = Dependencies(Path(options.cache_dir).resolve(), log)
        self.moto: MotoServer | None = None
        if options.aws_endpoint:
            self.endpoint = options.aws_endpoint
        else:
            self.moto = MotoServer()
            self.endpoint = self.moto.endpoint
        self.aws = LocalAws(self.endpoint, self.app.region)
        created = unset_secrets(self.app, self.root)
        try:
            self.aws.create_resources(self.app, secret_values(self.app, self.root))
        except (BotoCoreError, ClientError) as error:
            if self.moto is not None:
                raise
            # A failing --aws-endpoint is worth serving: it shows how the API answers when AWS fails.
            log(f"warning: {self.endpoint} failed while creating the template's tables, buckets and secrets: {error}")
            log("warning: serving anyway; the functions use the same endpoint and will meet the same failure")
            created = set()  # nothing to rotate: no secret was created
        self.persist = Path(options.persist).resolve() if options.persist else None
        if self.persist:
            try:
                log(f"Restored {self.aws.restore(self.app, self.persist)} items from {self.persist}")
            except BaseException:
                if self.moto is not None:
                    self.moto.stop()
                raise
        self.pools = self._pools()
        self.gateway = Gateway(self.app, self.pools, log, self.static_dir(options))
        if self.persist:
            persist = self.persist
            self.gateway.commit = GroupCommit(lambda: self.aws.snapshot(self.app, persist)).commit
        self.lock = threading.Lock()
        try:
            self.rotate_created(self.app, created)
        except BaseException:
            self.close()
            raise

    def static_dir(self, options: argparse.Namespace) -> Path | None:
        """--static-dir, relative to the template's directory as sam resolves it; `public` if it exists."""
        given = getattr(options, "static_dir", None)
        if given is None:
            return None
        directory: Path = self.root / str(given)
        if not directory.is_dir():
            if given != DEFAULT_STATIC_DIR:
                raise ValueError(f"--static-dir {given}: no such directory ({directory})")
            return None
        log(f"Serving the files in {directory} at / (--static-dir)")
        return directory

    def _load(self) -> App:
        return load_app(
            self.template_path, self.overrides, self.env_vars, self.options.concurrency, self.options.region
        )

    @staticmethod
    def warn(app: App) -> None:
        for warning in app.warnings:
            log(f"warning: {warning}")
        for function in app.functions.values():
            if reserved := reserved_in_template(function):
                log(f"warning: {function.logical_id} sets {', '.join(reserved)}: Lambda reserves these (ignored)")

    def _pools(self) -> dict[str, FunctionPool]:
        pools = {}
        for name, function in self.app.functions.items():
            environment = lambda_environment(function, self.app.region, self.endpoint)
            debug_port = self.options.debug_port if name == self.debug_function else None
            pools[name] = FunctionPool(function, environment, self.dependencies, log, debug_port)
            say_if_broken(pools[name])
        return pools

    def _debug_function(self) -> str | None:
        """The logical id --debug-port applies to: --debug-function's, or the template's only function."""
        port, name = self.options.debug_port, self.options.debug_function
        if port is None:
            if name:
                log("warning: --debug-function does nothing without --debug-port")
            return None
        if name:
            function = resolve_function_name(self.app, name)
        elif len(self.app.functions) == 1:
            function = next(iter(self.app.functions))
        else:  # sam (with warm containers) warns and debugs nothing; this stops and names the choices
            choices = ", ".join(sorted(self.app.functions))
            raise ValueError(f"--debug-port debugs one function: add --debug-function with one of {choices}")
        if debugpy_location() is None:
            raise ValueError("--debug-port needs debugpy, which requirements-dev.txt pins: run `make install`")
        log(f"Debugging {function}: its worker (one at most, no timeouts) waits for a debugger on 127.0.0.1:{port}")
        return function

    def warm(self, pools: dict[str, FunctionPool]) -> None:
        """--warm-containers EAGER: one worker per function, started side by side (as many at once as there are
        CPUs, so each init time is its own and not the contention's) and idle when this returns."""
        started = time.perf_counter()
        if self.debug_function in pools:
            log(f"Not warming {self.debug_function}: its worker waits for the debugger, from its first request on")
        targets = {name: pool for name, pool in pools.items() if name != self.debug_function}
        warmed = 0
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 4, thread_name_prefix="warm") as executor:
            futures = {executor.submit(pool.warm): name for name, pool in sorted(targets.items())}
            for future in as_completed(futures):
                name = futures[future]
                try:
                    invocation = future.result()
                except Exception as error:  # one function that cannot start never stops the others
                    log(f"error: {name} was not warmed: {error}")
                    continue
                if invocation is not None:
                    warmed += invocation.outcome == "ready"
                    log(warm_line(name, invocation))
        if len(targets) > 1:
            log(f"Warmed {warmed} functions in {time.perf_counter() - started:.2f} s")

    def rotate_created(self, app: App, created: set[str]) -> None:
        """Rotate the secrets just created whose RotationSchedule AWS would run at once (devserver.rotation), then
        keep every secret's current value in secrets.local.json, so the next start needs no rotation."""
        due = rotations_due(app, created)
        try:
            for rotation in due:
                log(f"Rotating {rotation.secret} with {rotation.function}, as AWS does when it creates the schedule")
                rotate(self.aws.secretsmanager, app, rotation, functools.partial(self.step, rotation.function))
        except BaseException:
            update_secret_values(self.root, dict.fromkeys(created))  # forgotten: the next start makes them anew
            raise
        if due:
            update_secret_values(self.root, dict(self.aws.current_secret_values(app)))

    def step(self, function: str, event: dict[str, str]) -> None:
        invocation = self.pools[function].invoke(json.dumps(event))
        if invocation.outcome != "ok":
            raise RotationError(f"{function} failed its {event['Step']} step ({invocation.outcome}): see its log above")

    def reload_functions(self, names: set[str]) -> None:
        for name in sorted(names):
            self.pools[name].restart()
            say_if_broken(self.pools[name])
        log(f"Reloaded {', '.join(sorted(names))}")
        if self.eager:  # as sam's EAGER containers are started again after a change
            self.warm({name: self.pools[name] for name in names})

    def reload_template(self) -> None:
        try:
            app = self._load()
            created = unset_secrets(app, self.root)
            # Only a template whose resources exist goes live: a half-typed table keeps the previous one serving.
            self.aws.create_resources(app, secret_values(app, self.root))
        except Exception as error:
            log(f"{self.template_path.name} not reloaded: {error}")
            return
        self.warn(app)
        if changed := sorted(name for name, spec in app.tables.items() if self.app.tables.get(name, spec) != spec):
            log(f"warning: {', '.join(changed)} changed; tables are created once, so restart to apply it")
        with self.lock:
            old = self.pools
            self.app = app
            self.pools = self._pools()
            self.gateway.pools = self.pools
            self.gateway.load(app)
        stop_workers([worker for pool in old.values() for worker in pool.retire()])
        log(f"Reloaded {self.template_path.name}: {len(app.routes)} routes")
        self.print_routes()
        if self.eager:
            self.warm(self.pools)
        try:
            self.rotate_created(app, created)
        except RotationError as error:
            log(f"error: {error}")

    def print_routes(self) -> None:
        """Each route as a URL path (under its API's stage, when that is a named one) and what guards it."""
        for route in sorted(self.app.routes, key=lambda route: (route.path, route.method)):
            api = self.app.apis.get(route.api)
            stage = f"/{api.stage}" if api is not None and api.stage != "$default" else ""
            path = stage + route.path if route.path != "$default" else f"{stage}/* ($default)"
            where = f"{route.method:7} {path:28}" if route.path != "$default" or stage else f"{'$default':36}"
            guard = f" (authorizer {route.authorizer})" if route.authorizer else ""
            log(f"  {where} -> {route.function}{guard}")

    def serve(self) -> int:
        return asyncio.run(self.serve_async())

    async def serve_async(self) -> int:
        server = HttpServer(
            self.gateway.handle,
            self.gateway.refused,
            client_timeout=self.options.client_timeout,
            head_deadline=self.options.head_deadline,
        )
        try:
            port = await server.start(self.options.host, self.options.port)
        except OSError as error:  # for example: the port is in use
            log(
                f"Cannot listen on {self.options.host}:{self.options.port} ({error.strerror or error}): "
                'try make dev ARGS="--port <another>"'
            )
            self.close()
            return 1
        watcher = Watcher(lambda: self.app, self.reload_functions, self.reload_template)
        if not self.options.no_reload:
            watcher.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
            loop.add_signal_handler(stop_signal, stop.set)
        log(f"Mounted {len(self.app.routes)} routes from {self.template_path.name}:")
        self.print_routes()
        log(f"AWS endpoint: {self.aws.endpoint} (DynamoDB, S3, Secrets Manager)")
        log(f"Running on http://{self.options.host}:{port}/ (Ctrl-C to stop)")
        await stop.wait()
        log("Shutting down")
        await server.stop()
        watcher.stop() if not self.options.no_reload else None
        # Workers are stopped off the loop: a request still waiting on one ends with the loop.
        await asyncio.to_thread(self.close)
        return 0

    def close(self) -> None:
        if self.persist:
            self.aws.snapshot(self.app, self.persist)
            log(f"Saved data to {self.persist}")
        stop_workers([worker for pool in self.pools.values() for worker in pool.retire()])
        if self.moto:
            self.moto.stop()


def warm_line(name: str, invocation: Invocation) -> str:
    """What EAGER says of one function: its init time, or why it failed (its requests then get a 500)."""
    if invocation.outcome == "ready":
        return f"Warmed {name} in {invocation.init_ms or 0:.0f} ms"
    if invocation.outcome == "init_error" and invocation.payload:
        error = json.loads(invocation.payload)
        reason = f"{error['errorType']}: {error['errorMessage']}"
    elif invocation.outcome == "timeout":
        reason = f"its init took over {INIT_TIMEOUT_SECONDS} s, Lambda's limit"
    else:
        reason = f"its worker exited during its init ({invocation.outcome})"
    return f"error: {name} failed to warm: {reason}"


def invoke(options: argparse.Namespace) -> int:
    options.port, options.host, options.no_reload = 0, "127.0.0.1", True
    if options.debug_port is not None:  # debugs the function invoked, unless --debug-function names another
        options.debug_function = options.debug_function or options.function
    server = DevServer(options)
    try:
        function = resolve_function_name(server.app, options.function)
        event = json.loads(Path(options.event).read_text()) if options.event != "-" else json.load(sys.stdin)
        invocation = server.pools[function].invoke(json.dumps(event))
        print(invocation.payload if invocation.payload is not None else json.dumps({"errorType": invocation.outcome}))
        return 0 if invocation.outcome == "ok" else 1
    finally:
        server.close()


def resolve_function_name(app: App, name: str) -> str:
    """A logical id (as sam uses), or the function's directory name under functions/."""
    if name in app.functions:
        return name
    for logical_id, function in app.functions.items():
        if name in (function.name, function.code_dir.name):  # FunctionName too, as sam accepts it
            return logical_id
    raise SystemExit(f"unknown function {name!r}; choose one of: {', '.join(sorted(app.functions))}")


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """File descriptor 1 is 2 meanwhile, for this process and the ones it starts."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def token(options: argparse.Namespace) -> int:
    """An access token for USER_ID signed with the local signing key, for curl and the browser."""
    app = load_app(options.template)
    function = next(function for function in app.functions.values() if "JWT_SIGNING_KEY_ARN" in function.environment)
    # Locally `!Ref JwtSigningKey` is the secret's logical id, which names its value in secrets.local.json.
    secret = function.environment["JWT_SIGNING_KEY_ARN"]
    if rotations_due(app, unset_secrets(app, app.path.parent)):
        log(f"No {secret} yet in secrets.local.json: making it as `make dev` does on its first start")
        options.port, options.host, options.no_reload = 0, "127.0.0.1", True
        with stdout_to_stderr():  # the workers' logs too: stdout is the token alone, for TOKEN=$(make -s token)
            DevServer(options).close()
    key = secret_values(app, app.path.parent)[secret]
    if '"private_key"' not in key:
        raise SystemExit(
            f"{secret} in secrets.local.json is not a signing key: delete it and JwtPublicKeys there, then run "
            "`make dev` once (its first start makes both)"
        )
    os.environ.update({name: value for name, value in function.environment.items() if name.startswith("JWT_")})
    sys.path[:0] = [str(path) for path in function.layer_dirs]
    from apikit.auth import issue_access_token

    print(issue_access_token(options.user_id, signing_key=key))
    return 0


def add_options(target: argparse.ArgumentParser, serve: bool, defaults: dict[str, Any] | None) -> None:
    """The flags every command takes (and, with `serve`, those of start-api). A subcommand's copy has no defaults
    of its own (SUPPRESS), so a flag given before the subcommand, or one from samconfig.toml, is never reset."""

    def add(*names: str, default: Any = None, **kwargs: Any) -> None:
        target.add_argument(*names, default=argparse.SUPPRESS if defaults is None else default, **kwargs)

    add("--template", "-t", default="template.yaml", help="the SAM template (default: template.yaml)")
    add("--env-vars", "-n", help="SAM env.json: {LogicalId: {VAR: value}, Parameters: {VAR: value}}")
    add("--parameter-overrides", help="template parameters: 'Key=Value Key2=Value2'")
    add("--region", default=DEFAULT_REGION, help=f"AWS_REGION of the functions (default {DEFAULT_REGION})")
    add("--aws-endpoint", help="use this AWS endpoint (e.g. DynamoDB Local) instead of embedded moto")
    add(
        "--persist",
        metavar="DIR",
        help="keep tables and buckets in DIR across restarts, each write on disk before its 2xx is sent",
    )
    add("--concurrency", type=int, default=4, help="warm workers per function at most (default 4)")
    add("--cache-dir", default=str(DEFAULT_CACHE), help="where dependency sets are installed")
    add("--debug-port", "-d", type=int, help="the debugged function's worker waits for a debugger (debugpy) here")
    add("--debug-function", help="the function --debug-port applies to (needed when the template has several)")
    if serve:
        add("--host", default="127.0.0.1")
        add("--port", "-p", type=int, default=3000)
        add("--no-reload", action="store_true", default=False, help="do not watch files")
        add(
            "--static-dir",
            "-s",
            default=DEFAULT_STATIC_DIR,
            help=f"serve this directory's files at / (default: {DEFAULT_STATIC_DIR}, if it exists), as sam does",
        )
        add(
            "--warm-containers",
            type=warm_containers,
            metavar="{EAGER,LAZY}",
            help="EAGER: start one worker per function at start; LAZY (the default): on its first request",
        )
        # API Gateway's limits on slow clients (devserver.server), shortened only by the tests of them: not shown.
        add("--client-timeout", type=float, default=CLIENT_TIMEOUT_SECONDS, help=argparse.SUPPRESS)
        add("--head-deadline", type=float, default=HEAD_DEADLINE_SECONDS, help=argparse.SUPPRESS)
    if defaults:
        target.set_defaults(**defaults)


def warm_containers(value: str) -> str:
    """EAGER or LAZY, in any case, as sam accepts them (samconfig.toml's warm_containers too)."""
    if value.upper() not in ("EAGER", "LAZY"):
        raise argparse.ArgumentTypeError(f"{value!r} is not EAGER or LAZY")
    return value.upper()


def parser(defaults: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="devserver", description=__doc__)
    add_options(main, serve=True, defaults=defaults or {})
    commands = main.add_subparsers(dest="command")
    start = commands.add_parser("start-api", help="serve the API (the default)")
    run = commands.add_parser("invoke", help="run one function once with an event file")
    run.add_argument("function", help="logical id (PostsGetFunction) or directory name (posts_get)")
    run.add_argument("--event", "-e", required=True, help="event JSON file, or - for stdin")
    mint = commands.add_parser("token", help="print an access token for local requests")
    mint.add_argument("user_id")
    for command in (start, run, mint):
        add_options(command, serve=command is start, defaults=None)
    return main


# samconfig.toml keys `sam local start-api` reads, as our flags: https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html
SAMCONFIG_KEYS = {
    "template": "template",
    "template_file": "template",
    "env_vars": "env_vars",
    "parameter_overrides": "parameter_overrides",
    "region": "region",
    "host": "host",
    "port": "port",
    "warm_containers": "warm_containers",
    "static_dir": "static_dir",
}


def samconfig_defaults(path: Path, config_env: str = "default") -> dict[str, Any]:
    """[<env>.global.parameters] then [<env>.local_start_api.parameters] from samconfig.toml, as `sam local
    start-api` reads them; flags on the command line win over both."""
    if not path.is_file():
        return {}
    config = tomllib.loads(path.read_text()).get(config_env, {})
    defaults: dict[str, Any] = {}
    for section in ("global", "local_start_api"):
        for key, value in config.get(section, {}).get("parameters", {}).items():
            if key in SAMCONFIG_KEYS:
                # sam accepts a list for parameter_overrides ("Key=Value" items), as well as one string.
                defaults[SAMCONFIG_KEYS[key]] = " ".join(value) if isinstance(value, list) else value
    return defaults


def main(argv: list[str] | None = None) -> int:
    # sam reads samconfig.toml from the template's directory (the project), else from the working directory.
    template = parser().parse_known_args(argv)[0].template
    project = Path(template).resolve().parent
    options = parser(samconfig_defaults(project / "samconfig.toml")).parse_args(argv)
    try:
        if options.command == "invoke":
            return invoke(options)
        if options.command == "token":
            return token(options)
        started = time.perf_counter()
        server = DevServer(options)
    except (
        TemplateError,
        OSError,
        ValueError,
        RotationError,
        yaml.YAMLError,
    ) as error:  # said plainly, not as a traceback
        log(f"error: {error}")
        return 1
    if server.eager:
        try:
            server.warm(server.pools)
        except BaseException:
            server.close()
            raise
    log(f"Started in {time.perf_counter() - started:.2f} s")
    return server.serve()

"""`make bench` section 8: which GraphQL library the GraphQL function starts fastest with, for its own schema.

graphql-core alone (the baseline), ariadne (schema first, on graphql-core) and strawberry (code first, on graphql-core)
each build functions/graphql/schema.graphql and answer one query, in fresh interpreters, interleaved. Each library is
pip-installed with its dependencies into its own directory under .devserver-cache/bench-graphql/, once (a second run
reuses it). Alone: `.venv/bin/python -m benchmarks.graphql_bench [REPEATS] [--record]` (--record: into the docs).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from string import Template
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "functions" / "graphql" / "schema.graphql"
CACHE = ROOT / ".devserver-cache" / "bench-graphql"
HEADING = "## 8. The GraphQL function's library: graphql-core alone, ariadne and strawberry (cold start, ms)"
QUERY = "{ posts(first: 2) { edges { node { id title author { name } } } pageInfo { hasNextPage endCursor } } }"
LIBRARIES = {
    "graphql-core": "graphql-core==3.3.2",
    "ariadne": "ariadne==1.1.1",
    "strawberry": "strawberry-graphql==0.341.2",
}
# `strawberry schema-codegen` needs the CLI's extra (typer, rich, libcst, uvicorn...): a directory of its own, so
# that strawberry is measured as the function would ship it.
CODEGEN = "strawberry-graphql[cli]==0.341.2"

# The resolvers' data, the same for the three: a module of the scratch directory that every script imports.
DATA = """\
SCHEMA = $schema
QUERY = $query
POSTS = [
    {"id": f"p{n}", "title": f"Post {n}", "content": "Hello", "author": {"id": "u1", "name": "Ada"},
     "createdAt": "2026-11-27T10:00:00Z", "updatedAt": "2026-11-27T10:00:00Z", "etag": "v1"}
    for n in range(1, 4)
]


def page(first):
    posts = POSTS[:first]
    info = {"hasNextPage": first < len(POSTS), "hasPreviousPage": False, "startCursor": None}
    info["endCursor"] = posts[-1]["id"]
    return {"edges": [{"node": post, "cursor": None} for post in posts], "nodes": posts, "pageInfo": info}


def unwritten(*_, **__):
    raise NotImplementedError
"""

# What each fresh interpreter runs: the clock starts on the script's first line. argv[1]: 0 for a cold start; N to go
# on with N more executions (the warm cost) and print the schema (to check that the three build the same one).
HARNESS = """\
import time

started = time.perf_counter()
import sys

modules = set(sys.modules)
$imports
imported = time.perf_counter()
from bench_data import QUERY, SCHEMA, page, unwritten

$build
built = time.perf_counter()
data = execute()
answered = time.perf_counter()
imported_modules = len(sys.modules) - len(modules)
runs = int(sys.argv[1])
for _ in range(runs):
    execute()
warm_us = (time.perf_counter() - answered) / max(runs, 1) * 1e6
schema, by_package = "", {}
if runs:
    from graphql import lexicographic_sort_schema, print_schema

    schema = print_schema(lexicographic_sort_schema(graphql_schema))
    for name in set(sys.modules) - modules:
        by_package[name.split(".")[0]] = by_package.get(name.split(".")[0], 0) + 1
# repr, not json: json is not imported by every library, and importing it here would count in the process time.
print(repr({
    "import": (imported - started) * 1e3, "build": (built - imported) * 1e3, "query": (answered - built) * 1e3,
    "total": (answered - started) * 1e3, "modules": imported_modules, "data": data, "warm_us": warm_us,
    "schema": schema, "by_package": by_package,
}))
"""

# Each library's imports, then its build: `graphql_schema` (the GraphQLSchema) and `execute()`, the answer's data.
APPS = {
    "graphql-core": (
        "from graphql import build_schema, graphql_sync",
        """\
graphql_schema = build_schema(open(SCHEMA).read())
# graphql-core's default resolver calls a root value's callable with the field's arguments.
root = {"posts": lambda info, first=20, after=None, author=None: page(first)}


def execute():
    result = graphql_sync(graphql_schema, QUERY, root)
    assert result.errors is None, result.errors
    return result.data
""",
    ),
    "ariadne": (
        "from ariadne import MutationType, QueryType, graphql_sync, make_executable_schema",
        """\
query, mutation = QueryType(), MutationType()
query.set_field("posts", lambda _, info, first=20, after=None, author=None: page(first))
for name in ("me", "post", "orders"):
    query.set_field(name, unwritten)
for name in ("createPost", "updatePost", "deletePost"):
    mutation.set_field(name, unwritten)
graphql_schema = make_executable_schema(open(SCHEMA).read(), query, mutation)


def execute():
    ok, result = graphql_sync(graphql_schema, {"query": QUERY})
    assert ok and "errors" not in result, result
    return result["data"]
""",
    ),
    "strawberry": (
        "import strawberry",
        """\
from generated_schema import schema  # the codegen's module: its types and strawberry.Schema are built on import

graphql_schema = schema._schema


def execute():
    result = schema.execute_sync(QUERY)
    assert result.errors is None, result.errors
    return result.data
""",
    ),
}

# `strawberry schema-codegen` leaves the fields' arguments out (`posts: PostConnection`, no `first`): every field that
# takes some gets a resolver whose parameters declare them, as one would write by hand, so that the schema is the
# SDL's (checked). UNSET: an argument without a default, as in the SDL. Only posts is called; the others are stubs.
RESOLVERS = """
from bench_data import page

UNSET = strawberry.UNSET


def resolve_posts(first: int | None = 20, after: str | None = UNSET, author: strawberry.ID | None = UNSET):
    answer = page(first)
    info = answer["pageInfo"]
    nodes = [
        Post(id=post["id"], title=post["title"], content=post["content"], author=User(**post["author"]),
             created_at=post["createdAt"], updated_at=post["updatedAt"], etag=post["etag"])
        for post in answer["nodes"]
    ]
    page_info = PageInfo(has_next_page=info["hasNextPage"], has_previous_page=info["hasPreviousPage"],
                         start_cursor=info["startCursor"], end_cursor=info["endCursor"])
    return PostConnection(edges=[PostEdge(node=node, cursor=None) for node in nodes], nodes=nodes, page_info=page_info)


def resolve_post(id: strawberry.ID): raise NotImplementedError
def resolve_page(first: int | None = 20, after: str | None = UNSET): raise NotImplementedError
def resolve_create_post(input: PostInput): raise NotImplementedError
def resolve_update_post(id: strawberry.ID, input: PostPatch, if_match: str | None = UNSET): raise NotImplementedError
def resolve_delete_post(id: strawberry.ID, if_match: str | None = UNSET): raise NotImplementedError
"""
RESOLVED = {
    "Query.post": "resolve_post",
    "Query.posts": "resolve_posts",
    "Query.orders": "resolve_page",
    "Me.posts": "resolve_page",
    "User.posts": "resolve_page",
    "Mutation.create_post": "resolve_create_post",
    "Mutation.update_post": "resolve_update_post",
    "Mutation.delete_post": "resolve_delete_post",
}


def checked(command: list[str], path: str | None = None) -> str:
    """The command's output; `path`: a pinned spec, whose directory is then the only PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(installed(path))} if path else None
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def installed(spec: str) -> Path:
    """The pinned spec and its dependencies in a directory of their own, installed only when missing."""
    target = CACHE / spec.replace("[", "-").replace("]", "").replace("==", "-")
    if not target.is_dir():
        # Installed aside, then renamed: an interrupted install is never taken for a finished one.
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        checked(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-warn-conflicts", "--target", str(partial), spec]
        )
        partial.rename(target)
    return target


def strawberry_code(scratch: Path) -> str:
    """strawberry's own codegen on the SDL, with the resolvers of RESOLVERS bound to the fields that take arguments."""
    generated = scratch / "codegen.py"
    checked([sys.executable, "-S", "-m", "strawberry", "schema-codegen", str(SCHEMA), "-o", str(generated)], CODEGEN)
    lines, owner, bound = [], "", set()
    for line in generated.read_text().splitlines():
        owner = match[1] if (match := re.match(r"class (\w+)", line)) else owner
        field = re.match(r" {4}(\w+): ", line)
        if field and (resolver := RESOLVED.get(f"{owner}.{field[1]}")):
            call = "strawberry.field("
            line = line.replace(call, f"{call}resolver={resolver}, ") if call in line else f"{line} = {call}{resolver})"
            bound.add(f"{owner}.{field[1]}")
        lines.append(line)
        if line == "import strawberry":
            lines.append(RESOLVERS)
    if bound != set(RESOLVED):
        raise SystemExit(f"strawberry's codegen output changed: {sorted(set(RESOLVED) - bound)} not found")
    return "\n".join(lines) + "\n"


TIMES = ("total", "wall", "import", "build", "query")  # ms: in the process, of the process, and the three phases


def script(name: str) -> str:
    return f"bench_{name.replace('-', '_')}.py"  # not ariadne.py: the script's directory comes first on sys.path


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def measure(repeats: int, warm_runs: int) -> dict[str, Any]:
    from benchmarks.lambda_bench import _tree_bytes  # section 4's size: the files, without __pycache__

    targets = {name: installed(spec) for name, spec in LIBRARIES.items()}  # before any timing
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        data = Template(DATA).substitute(schema=repr(str(SCHEMA)), query=repr(QUERY))
        (scratch / "bench_data.py").write_text(data)
        (scratch / "generated_schema.py").write_text(strawberry_code(scratch))
        for name, (imports, build) in APPS.items():
            (scratch / script(name)).write_text(Template(HARNESS).substitute(imports=imports, build=build))

        def run(name: str, runs: int) -> dict[str, Any]:
            # -S: no site-packages: the script sees its own directory (scratch), the library's and the stdlib only.
            started = time.perf_counter()
            stdout = checked([sys.executable, "-S", str(scratch / script(name)), str(runs)], LIBRARIES[name])
            wall_ms = (time.perf_counter() - started) * 1e3
            figures: dict[str, Any] = ast.literal_eval(stdout.strip().splitlines()[-1])
            return figures | {"wall": wall_ms}

        checks = {name: run(name, warm_runs) for name in APPS}  # also writes the scratch modules' .pyc files
        for name, check in checks.items():
            for key in ("schema", "data"):
                if check[key] != checks["graphql-core"][key]:
                    raise SystemExit(f"{name}'s {key} is not graphql-core's:\n{check[key]}")
        # Round-robin, so that a burst of load elsewhere on the machine hits every library alike.
        cold: dict[str, list[dict[str, Any]]] = {name: [] for name in APPS}
        warm: dict[str, list[float]] = {name: [check["warm_us"]] for name, check in checks.items()}
        for _ in range(repeats):
            for name in APPS:
                cold[name].append(run(name, 0))
                warm[name].append(run(name, warm_runs)["warm_us"])

    rows = []
    for name, samples in cold.items():
        by_package = sorted(checks[name]["by_package"].items(), key=lambda item: -item[1])
        rows.append(
            {
                "name": name,
                "library": LIBRARIES[name],
                **{f"{key}_p50": statistics.median(sample[key] for sample in samples) for key in TIMES},
                **{f"{key}_p90": percentile([sample[key] for sample in samples], 0.9) for key in ("total", "wall")},
                "modules": samples[0]["modules"],
                "modules_by_package": by_package[:5],
                "bytes": _tree_bytes(targets[name]),
                "bytes_on_disk": sum(path.stat().st_size for path in targets[name].rglob("*") if path.is_file()),
                "packages": sorted(path.name.split("-")[0] for path in targets[name].glob("*.dist-info")),
                "warm_us": statistics.median(warm[name]),
            }
        )
    return {"repeats": repeats, "warm_runs": warm_runs, "rows": rows}


def text(result: dict[str, Any]) -> str:
    """The section of docs/benchmarks.md, with the verdict (ariadne against strawberry) from the figures."""
    from benchmarks.soak import table

    core, ariadne, strawberry = result["rows"]

    def ratio(row: dict[str, Any], key: str) -> str:
        return f"{row[key] / core[key]:.2f}"

    cold = [
        [
            row["library"],
            f"{row['total_p50']:.1f}",
            f"{row['total_p90']:.1f}",
            ratio(row, "total_p50"),
            f"{row['wall_p50']:.1f}",
            f"{row['wall_p90']:.1f}",
            ratio(row, "wall_p50"),
            f"{row['import_p50']:.1f} / {row['build_p50']:.1f} / {row['query_p50']:.1f}",
        ]
        for row in result["rows"]
    ]
    other = [
        [
            row["library"],
            f"{row['bytes'] / 1e6:.1f} / {row['bytes_on_disk'] / 1e6:.1f}",
            ", ".join(row["packages"]),
            f"{row['modules']}: " + ", ".join(f"{package} {count}" for package, count in row["modules_by_package"]),
            f"{row['warm_us']:.0f}",
            ratio(row, "warm_us"),
        ]
        for row in result["rows"]
    ]
    fast, slow = sorted((ariadne, strawberry), key=lambda row: row["total_p50"])

    def than(key: str) -> str:
        less, times = slow[key] - fast[key], slow[key] / fast[key]
        return f"{less:.0f} ms less (median {fast[key]:.0f} against {slow[key]:.0f} ms, {times:.2f}x)"

    verdict = (
        f"**{fast['name']} has the lower cold start: {than('total_p50')} in the process than "
        f"{slow['name']}, {than('wall_p50')} from the interpreter's start to its exit. Over graphql-core alone, "
        f"{fast['name']} adds {fast['total_p50'] - core['total_p50']:.0f} ms and {slow['name']} "
        f"{slow['total_p50'] - core['total_p50']:.0f} ms.** Where it goes: importing the library "
        f"{fast['import_p50']:.0f} against {slow['import_p50']:.0f} ms, building the schema {fast['build_p50']:.1f} "
        f"against {slow['build_p50']:.1f} ms, {fast['modules']} against {slow['modules']} modules imported. Warm, "
        f"a query costs {fast['warm_us']:.0f} µs with {fast['name']} and {slow['warm_us']:.0f} µs with "
        f"{slow['name']}."
    )
    return (
        f"{HEADING}\n\n"
        f"The same schema (functions/graphql/schema.graphql) and query (`{QUERY}`), resolvers answering from memory. "
        "graphql-core alone: `build_schema` on the SDL, Query.posts a callable of the root value. ariadne: "
        "`make_executable_schema` on the SDL with `QueryType` and `MutationType` resolvers. strawberry, code first: "
        "the types that `strawberry schema-codegen` generates from the SDL (it leaves out the fields' arguments, so "
        f"the {len(RESOLVED)} fields that take some get a resolver declaring them), then `strawberry.Schema`. The "
        "three print the same schema and give the same answer (checked). Each library is pip-installed with its "
        "dependencies into a directory of its own; each run is a fresh `python -S` that sees only that directory "
        "and the standard library. In the process: from the script's first line to the answer; process: from "
        f"starting the interpreter to its exit. Median and p90 of {result['repeats']} runs of each, interleaved.\n\n"
        + table(
            [
                "library",
                "in the process, median",
                "p90",
                "x graphql-core",
                "process, median",
                "p90",
                "x graphql-core",
                "import / build / first query (medians)",
            ],
            cold,
        )
        + "\n\n"
        + table(
            [
                "library",
                "installed MB, with its dependencies: files / with pip's .pyc",
                "packages",
                "modules imported: most by package",
                f"warm µs per query: {result['warm_runs']} in a process, median of {result['repeats'] + 1}",
                "x graphql-core",
            ],
            other,
        )
        + f"\n\n{verdict}"
    )


def record(section: str, document: Path) -> None:
    """Section 8 into docs/benchmarks.md as `make bench` writes it: the last section, so what follows it goes too."""
    before = document.read_text().split(HEADING, 1)[0].rstrip()
    document.write_text(f"{before}\n\n{section}\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repeats", type=int, nargs="?", default=15, help="cold starts of each library")
    parser.add_argument("--warm-runs", type=int, default=200, help="executions of the query in one process")
    parser.add_argument("--record", action="store_true", help="print the section and write it into the docs")
    options = parser.parse_args()
    result = measure(options.repeats, options.warm_runs)
    if options.record:
        section = text(result)
        record(section, ROOT / "docs" / "benchmarks.md")
        print(section)
    print(json.dumps(result))

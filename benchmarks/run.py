"""`make bench`: every benchmark in one run, printed as tables and written to docs/benchmarks.md."""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

import json  # noqa: E402
import subprocess  # noqa: E402
from typing import Any  # noqa: E402


def measure(module: str, *args: object) -> Any:
    """Run one benchmark in a fresh interpreter (no shared clients, caches or hooks) and read its JSON."""
    result = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmarks.{module} {args} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# The last dev server on Werkzeug's threaded WSGI server: its figures are measured in the same run, side by side.
BASELINE_REVISION = "83ab4c7"
from benchmarks import graphql_bench  # noqa: E402  (section 8, its text too: graphql_bench.py alone can record it)
from benchmarks.soak import SOAK_HEADING  # noqa: E402  (its section of docs/benchmarks.md is soak.py's)


def throughput_section(now: dict[str, Any], before: dict[str, Any]) -> str:
    """GET /api/health under load: this dev server next to the Werkzeug one, measured in the same run."""
    header = (
        f"Throughput and the dev server's own CPU (its gateway process; the worker's share is section 2's) on GET "
        f"/api/health with {now['clients']} concurrent clients in 2 client processes, then one client's p50 latency. "
        "Targets: >= 3,000 req/s with and without keep-alive, <= 0.3 ms CPU per request, p50 no worse than "
        f"before. Before: the Werkzeug dev server of commit {before['revision']}, run from its own copy of "
        "devserver/, template, functions and layer (it cannot read today's template), in this run.\n\n"
    )
    if before.get("missing"):
        header += f"(Commit {before['revision']} is not in this clone: the before column is empty.)\n\n"

    def figure(figures: dict[str, Any], mode: str, key: str, digits: int) -> str:
        return f"{figures[mode][key]:.{digits}f}" if mode in figures else "-"

    def ratio(mode: str, key: str) -> str:
        return f"{now[mode][key] / before[mode][key]:.2f}" if mode in before else "-"

    rows = []
    for mode, label in (("keep_alive", "keep-alive"), ("new_connection", "new connection per request")):
        rows.append(
            [
                label,
                figure(before, mode, "rps", 0),
                figure(now, mode, "rps", 0),
                ratio(mode, "rps"),
                figure(before, mode, "cpu_ms", 3),
                figure(now, mode, "cpu_ms", 3),
                ratio(mode, "cpu_ms"),
            ]
        )
    latency = [
        [
            label,
            f"{before[key]:.2f}" if key in before else "-",
            f"{now[key]:.2f}",
            f"{now[key] / before[key]:.2f}" if key in before else "-",
        ]
        for key, label in (("keep_alive_p50", "keep-alive"), ("new_connection_p50", "new connection per request"))
    ]
    return (
        header
        + table(["connections", "req/s before", "req/s now", "x before", "CPU ms/req before", "now", "x before"], rows)
        + "\n\n"
        + table(["one client, p50 ms", "before", "now", "x before"], latency)
    )


LISTING_HEADING = "## 7. A page of all posts over write shards (GET /api/posts), against moto"


def listing_text(listing: dict[str, Any]) -> str:
    """Section 7: what a page of all posts costs in DynamoDB calls and read units, and the merge's own time."""
    merge = {row["shards"]: row["merge_us"] for row in listing["merge"]}
    return (
        f"{LISTING_HEADING}\n\n"
        "A page of 20 of 400 posts (1 KB of content each). Read units are eventually consistent read request "
        "units by AWS's rules, from the items' sizes (a Query rounds its items' total up to 4 KB, BatchGetItem "
        "each item; half a unit per 4 KB); moto's own ConsumedCapacity counts one unit per call or key, whatever "
        "the size, and is shown beside them. The last column is the same page if ByShard projected ALL (each "
        "shard's query reading whole posts, no BatchGetItem): what KEYS_ONLY saves at 16 shards (docs/scale.md).\n\n"
        + table(
            ["page", "DynamoDB calls", "read units (AWS's rules)", "moto's units", "read units if ALL"],
            [
                [
                    row["page"],
                    row["calls"],
                    f"{row['aws_units']:g}",
                    f"{row['moto_units']:g}",
                    f"{row['aws_units_all']:g}",
                ]
                for row in listing["pages"]
            ],
        )
        + "\n\nMerging, DynamoDB out of the picture (the shards answer from memory): the third page's cursor "
        "verified and read, the shards' keys merged, the next cursor signed. µs per page: "
        + ", ".join(f"{shards} shard{'s' if shards > 1 else ''} **{us:.0f}**" for shards, us in merge.items())
        + f" ({merge[16] / merge[1]:.1f}x at 16 shards vs 1).\n\n"
        "Write units of one new post (the table and each index it is copied into; 1 KB per unit): "
        + "; ".join(
            f"{row['content']:,} characters of content: {row['before']} before (ByCreatedAt and ByAuthor, both ALL), "
            f"{row['now']} now (ByShard KEYS_ONLY, ByAuthor ALL), {row['now'] / row['before']:.2f}x"
            for row in listing["writes"]
        )
        + "."
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    options = parser.parse_args()
    repeats, iterations, requests_count = (3, 200, 100) if options.quick else (7, 1000, 400)

    sections = [
        f"# Benchmarks\n\nGenerated by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}, {platform.machine()}, {sys.platform}. Every ratio compares figures "
        f"from this same run; medians of {repeats} repetitions. Machines here are noisy: read the ratios."
    ]

    cold = measure("lambda_bench", "cold", repeats)
    sections.append(
        "## 1. Cold init: importing the handler module in a fresh interpreter (ms)\n\n"
        "Targets: every function <= 1.5x `bare: boto3 + client`; `/api/hello` <= 1.2x `bare: json`.\n\n"
        + table(
            [
                "handler",
                "import ms",
                "x bare json",
                "x bare boto3+client",
                "where it goes (self ms per package, -X importtime)",
            ],
            [
                [r["target"], f"{r['import_ms']:.1f}", f"{r['vs_json']:.2f}", f"{r['vs_boto3']:.2f}", r["top"]]
                for r in cold
            ],
        )
    )
    print(sections[-1], "\n", flush=True)

    warm, calls = measure("lambda_bench", "warm", iterations, repeats)
    sections.append(
        "## 2. Warm overhead per request (µs), DynamoDB stubbed with botocore Stubber\n\n"
        "`bare` makes the same stubbed call and a `json.dumps`. Target: <= 500 µs added.\n\n"
        + table(
            ["function", "handler µs", "bare µs", "added µs"],
            [[r["function"], f"{r['ours_us']:.0f}", f"{r['bare_us']:.0f}", f"{r['added_us']:.0f}"] for r in warm],
        )
    )
    print(sections[-1], "\n", flush=True)
    sections.append(
        "## 3. AWS calls per request (counted with a botocore `before-call` hook, against moto)\n\n"
        "Target: one DynamoDB data call per posts operation (the sample lists one author's posts; a page of all "
        "posts is a Query per shard and one BatchGetItem: section 7); the secret only on a cold start. The "
        "webhook's second delivery repeats the first (a Stripe retry): answered from its idempotency record, "
        "nothing written.\n\n"
        + table(
            ["function", "first (cold) invocation", "next (warm) invocation"],
            [
                [
                    r["function"],
                    ", ".join(f"{k} x{v}" for k, v in r["cold"].items()) or "none",
                    ", ".join(f"{k} x{v}" for k, v in r["warm"].items()) or "none",
                ]
                for r in calls
            ],
        )
    )
    print(sections[-1], "\n", flush=True)

    sizes = measure("lambda_bench", "size")
    sections.append(
        "## 4. Package size (unzipped)\n\n"
        f"Layer for arm64 (pinned requirements as aarch64 wheels + apikit): **{sizes['layer_bytes'] / 1e6:.1f} MB** "
        f"(target <= 25 MB), of which apikit {sizes['apikit_bytes'] / 1e3:.0f} kB. Native modules: "
        f"{', '.join(sizes['native'])}.\n\n"
        + table(
            ["function", "artifact bytes (code only)"], [[name, str(size)] for name, size in sizes["functions"].items()]
        )
    )
    print(sections[-1], "\n", flush=True)

    load_total = 4000 if options.quick else 12000
    served = measure("devserver_bench", "serve", requests_count, 8, load_total)
    before = measure("devserver_bench", "baseline", BASELINE_REVISION, 8, load_total)
    reload = measure("devserver_bench", "reload", 3)
    sections.append(
        "## 5. Dev server (`make dev`) vs calling the handler in-process (ms)\n\n"
        "Both call the same moto server for DynamoDB; the difference is what the dev server adds "
        "(HTTP, event, pipe to the warm worker, response). Target: <= 2 ms added at p50.\n\n"
        + table(
            ["route", "dev server p50", "p95", "in-process p50", "p95", "added p50"],
            [
                [
                    r["route"],
                    f"{r['server_p50']:.2f}",
                    f"{r['server_p95']:.2f}",
                    f"{r['inprocess_p50']:.2f}",
                    f"{r['inprocess_p95']:.2f}",
                    f"{r['added_p50']:.2f}",
                ]
                for r in served["routes"]
            ],
        )
        + "\n\n"
        + throughput_section(served["throughput"], before)
        + f"\n\nHot reload, from saving a function to the first response running the new code: median "
        f"**{reload['median_ms']:.0f} ms**, max {reload['max_ms']:.0f} ms."
    )
    print(sections[-1], "\n", flush=True)

    listing = measure("lambda_bench", "listing", repeats)
    listing_section = listing_text(listing)
    print(listing_section, "\n", flush=True)

    graphql_section = graphql_bench.text(measure("graphql_bench", 5 if options.quick else 15))
    print(graphql_section, "\n", flush=True)

    # The soak run's section is `make soak --record`'s (benchmarks/soak.py): kept as it is.
    output = Path(options.output)
    previous = output.read_text() if output.exists() else ""
    if SOAK_HEADING in previous:
        soak = SOAK_HEADING + previous.split(SOAK_HEADING, 1)[1]
        sections.append(soak.split(LISTING_HEADING, 1)[0].rstrip())
    sections += [listing_section, graphql_section]
    output.write_text("\n\n".join(sections) + "\n")
    print(f"Written to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make soak`: a fresh dev server under 50 concurrent clients for SOAK_SECONDS (60), reads and writes mixed.

Reports requests, req/s, p50/p99 per operation and overall, status counts, and the RSS of every process of the dev
server's process group (gateway, moto, each worker) sampled from /proc once a second. Exits 1 on any 5xx, any
status an operation never answers, any request that failed outright, or a process whose memory keeps growing.

`--persist`: the same run with `--persist DIR`, each write's 2xx waiting for its snapshot (devserver.persist); at
the end the whole process group is killed with SIGKILL mid-load, restarted on the same DIR, and every post whose
last write was acknowledged must be there as acknowledged (and every acknowledged delete gone).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python benchmarks/soak.py` from the Makefile
    sys.path.insert(0, str(ROOT))

from devserver.process import DevServerProcess  # noqa: E402

# Far above what the run sends from one address, still counted (as tests/integration/high-limits.json does).
HIGH_LIMITS = {
    "AuthLoginFunction": {"RATE_LIMIT": "1000000/minute", "RATE_LIMIT_PER_EMAIL": "1000000/minute"},
    "AuthSignupFunction": {"RATE_LIMIT": "1000000/minute", "RATE_LIMIT_PER_EMAIL": "1000000/minute"},
}
WARM_UP_SECONDS = 5
RAMP = 10
SOAK_HEADING = "## 6. Soak run (`make soak`)"  # docs/benchmarks.md; `make bench` (run.py) keeps this section
# The first seconds of a process, its cold start (imports, first clients), are left out of its trend: about 2 s on an
# idle machine, ten times that when other work shares the CPUs.
COLD_START_SECONDS = 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A process fails the run when the median RSS of the run's last third exceeds the first third's by more than this:
# MiB plus a share of the first third's. The fixed part absorbs the allocator (pymalloc arenas and glibc free lists
# grow in steps of a few MiB and are returned late); the share covers what the run keeps by design (moto holds every
# post, session and rate-limit counter written in memory, a few MiB). A leak of 1 kB per request, about 40,000
# requests in a minute here, is 40 MiB: over the bound in every process.
GROWTH_BOUND_MIB = 12.0
GROWTH_BOUND_SHARE = 0.10
PASSWORD = "soak-password-" + "x" * 16

# Each operation, its weight in the mix, and the statuses it may answer (anything else fails the run).
MIX: dict[str, tuple[int, frozenset[int]]] = {
    "list posts": (25, frozenset({200})),
    "get post": (20, frozenset({200, 404})),  # 404: its author deleted it meanwhile
    "get post If-None-Match": (10, frozenset({200, 304, 404})),
    "create post": (10, frozenset({201})),
    "patch post If-Match": (10, frozenset({200})),
    "delete post": (5, frozenset({204})),
    "auth me": (15, frozenset({200})),
    "refresh": (5, frozenset({200})),
}


def percentile(samples: list[float], share: float) -> float:
    """Nearest rank: the smallest sample with at least `share` of the samples at or below it."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without floats' surprises for share = k/100
    return ordered[int(rank) - 1]


def growth_bound(start_mib: float) -> float:
    return GROWTH_BOUND_MIB + GROWTH_BOUND_SHARE * start_mib


def memory_trend(samples: list[float]) -> tuple[float, float, bool]:
    """(first third's median, last third's median, within the bound) of a process's RSS samples in MiB. Fewer than
    6 samples say nothing about a trend: within."""
    if len(samples) < 6:
        return (samples[0] if samples else 0.0), (samples[-1] if samples else 0.0), True
    third = len(samples) // 3
    first, last = statistics.median(samples[:third]), statistics.median(samples[-third:])
    return first, last, last - first <= growth_bound(first)


# --- the dev server's processes, from /proc -------------------------------------------------------------------


def group_processes(group: int, proc: Path = Path("/proc")) -> dict[int, tuple[str, float, float]]:
    """{pid: (label, RSS in MiB, age in seconds)} of every process in this process group."""
    found = {}
    uptime = float((proc / "uptime").read_text().split()[0])
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses, so split after the last ')'.
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) != group:
                continue
            age = uptime - int(fields[19]) / CLOCK_TICKS  # field 22, starttime: ticks after boot
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        rss = re.search(r"^VmRSS:\s+(\d+) kB", status, flags=re.MULTILINE)
        if rss is not None:
            found[int(entry.name)] = (label(command), int(rss.group(1)) / 1024, age)
    return found


def label(command: list[bytes]) -> str:
    words = [word.decode(errors="replace") for word in command if word]
    if "devserver.moto_process" in words:
        return "moto"
    if any(word.endswith("worker.py") for word in words):  # worker.py FD FUNCTION_NAME
        return f"worker {words[-1]}"
    if "devserver" in words:
        return "dev server (gateway)"
    return " ".join(words)[:40] or "?"


@dataclass
class MemorySampler:
    group: int
    interval: float = 1.0
    samples: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    labels: dict[int, str] = field(default_factory=dict)
    measuring: bool = False
    ages: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    stopped: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        for pid, (name, rss, age) in group_processes(self.group).items():
            self.labels[pid] = name
            if self.measuring:
                self.samples[pid].append(rss)
                self.ages[pid].append(age)

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()


# --- the clients ---------------------------------------------------------------------------------------------


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, operation: str, status: int, elapsed_ms: float) -> None:
        with self.lock:
            self.latencies[operation].append(elapsed_ms)
            self.statuses[operation][status] += 1

    def unexpected(self) -> dict[str, Counter[int]]:
        return {
            operation: Counter({status: n for status, n in counts.items() if status not in MIX[operation][1]})
            for operation, counts in self.statuses.items()
            if any(status not in MIX[operation][1] for status in counts)
        }

    def server_errors(self) -> int:
        return sum(n for counts in self.statuses.values() for status, n in counts.items() if status >= 500)


@dataclass
class Ledger:
    """What the server acknowledged, for the check after kill -9: each post's last acknowledged ETag, or None once
    its delete was acknowledged. A post whose request was in flight at the kill is left out: either state is right."""

    acknowledged: dict[str, str | None] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    def __init__(self, url: str, email: str, results: Results, ledger: Ledger, shared: list[str], seed: int) -> None:
        self.url, self.results, self.ledger, self.shared = url, results, ledger, shared
        self.random = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
        self.http = requests.Session()
        login = self.http.post(f"{url}/api/auth/login", json={"email": email, "password": PASSWORD}, timeout=60)
        login.raise_for_status()
        self.access = login.json()["access_token"]
        self.cookie = refresh_cookie(login)
        self.own: dict[str, str] = {}  # location -> ETag of this client's posts
        self.known: dict[str, str] = {}  # location -> ETag last seen, for If-None-Match

    def call(self, operation: str, method: str, path: str, **kwargs: object) -> requests.Response:
        started = time.perf_counter()
        response = self.http.request(method, self.url + path, timeout=60, **kwargs)  # type: ignore[arg-type]
        self.results.add(operation, response.status_code, (time.perf_counter() - started) * 1000)
        return response

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    def step(self) -> None:
        operations = list(MIX)
        operation = self.random.choices(operations, weights=[MIX[name][0] for name in operations])[0]
        if operation in ("patch post If-Match", "delete post") and not self.own:
            operation = "create post"
        if operation in ("get post", "get post If-None-Match") and not self.shared:
            operation = "list posts"
        if operation == "create post" and len(self.own) >= 8:
            operation = "delete post"  # each client keeps a few posts: the tables stay the same size
        getattr(self, "do_" + operation.replace(" ", "_").replace("-", "_").lower())(operation)

    def do_list_posts(self, operation: str) -> None:
        self.call(operation, "GET", "/api/posts?limit=20")

    def do_get_post(self, operation: str) -> None:
        location = self.random.choice(self.shared)
        response = self.call(operation, "GET", location)
        if response.status_code == 200:
            self.known[location] = response.headers["ETag"]

    def do_get_post_if_none_match(self, operation: str) -> None:
        location = self.random.choice(self.shared)
        etag = self.known.get(location, '"v1"')
        response = self.call(operation, "GET", location, headers={"If-None-Match": etag})
        if response.status_code == 200:
            self.known[location] = response.headers["ETag"]

    def do_create_post(self, operation: str) -> None:
        body = {"title": f"Soak {uuid.uuid4().hex[:8]}", "content": "x" * self.random.randint(10, 400)}
        response = self.call(operation, "POST", "/api/posts", json=body, headers=self.bearer)
        if response.status_code == 201:
            location = response.headers["Location"]
            self.own[location] = response.headers["ETag"]
            with self.ledger.lock:
                self.ledger.acknowledged[location] = response.headers["ETag"]
            self.shared.append(location)

    def do_patch_post_if_match(self, operation: str) -> None:
        location = self.random.choice(list(self.own))
        with self.ledger.lock:
            self.ledger.in_flight.add(location)
        response = self.call(
            operation,
            "PATCH",
            location,
            json={"content": f"edited {uuid.uuid4().hex}"},
            headers={**self.bearer, "If-Match": self.own[location], "Content-Type": "application/merge-patch+json"},
        )
        with self.ledger.lock:
            if response.status_code == 200:
                self.own[location] = self.ledger.acknowledged[location] = response.headers["ETag"]
            self.ledger.in_flight.discard(location)

    def do_delete_post(self, operation: str) -> None:
        location = self.random.choice(list(self.own))
        with self.ledger.lock:
            self.ledger.in_flight.add(location)
        response = self.call(operation, "DELETE", location, headers={**self.bearer, "If-Match": self.own[location]})
        with self.ledger.lock:
            if response.status_code == 204:
                del self.own[location]
                self.ledger.acknowledged[location] = None
            self.ledger.in_flight.discard(location)

    def do_auth_me(self, operation: str) -> None:
        self.call(operation, "GET", "/api/auth/me", headers=self.bearer)

    def do_refresh(self, operation: str) -> None:
        response = self.call(operation, "POST", "/api/auth/refresh", headers={"Cookie": self.cookie})
        if response.status_code == 200:
            self.access, self.cookie = response.json()["access_token"], refresh_cookie(response)


def refresh_cookie(response: requests.Response) -> str:
    """name=value of the refresh cookie, sent back by hand: requests keeps Secure cookies off http://."""
    return str(response.headers["Set-Cookie"]).split(";", 1)[0]


# --- the run -------------------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    results: Results
    memory: MemorySampler
    ledger: Ledger
    persist: bool
    durability: str = ""
    lost: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)


@contextmanager
def dev_server(scratch: Path, persist: Path | None) -> Iterator[DevServerProcess]:
    limits = scratch / "high-limits.json"
    limits.write_text(__import__("json").dumps(HIGH_LIMITS))
    args = ["--parameter-overrides", "RateLimit=1000000/minute", "--env-vars", str(limits), "--no-reload"]
    if persist is not None:
        args += ["--persist", str(persist)]
    server = DevServerProcess(ROOT / "template.yaml", scratch / f"devserver-{time.monotonic_ns()}.log", *args)
    try:
        yield server
    finally:
        server.stop(group=True)


def soak(
    seconds: float, clients: int, persist: bool, log: Callable[[str], None] = print, warm_up: float = WARM_UP_SECONDS
) -> Run:
    scratch = Path(tempfile.mkdtemp(prefix="soak-"))
    data = scratch / "data" if persist else None
    with dev_server(scratch, data) as server:
        run = load(server, seconds, clients, persist, log, warm_up)
        run.log_errors = errors_in_log(server.output())
    if persist:
        assert data is not None
        with dev_server(scratch, data) as restarted:
            run.durability, run.lost = check_durability(restarted.url, run.ledger)
    if run.results.server_errors() or run.results.errors or run.lost:
        log(f"The dev server's logs are kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return run


def errors_in_log(output: str) -> list[str]:
    """The dev server's log lines that say why an answer was a 5xx (as many as 20)."""
    pattern = re.compile(
        r"error|Task timed out|Traceback|throttled|over its|exited|Init Duration: 10000", re.IGNORECASE
    )
    return [line for line in output.splitlines() if pattern.search(line)][:20]


def load(
    server: DevServerProcess, seconds: float, clients: int, persist: bool, log: Callable[[str], None], warm_up: float
) -> Run:
    users = max(1, clients // 5)
    emails = [f"soak-{uuid.uuid4().hex}@example.com" for _ in range(users)]
    for email in emails:
        answer = requests.post(
            f"{server.url}/api/auth/signup", json={"email": email, "password": PASSWORD, "name": "Soak"}, timeout=60
        )
        answer.raise_for_status()
    results, ledger, shared = Results(), Ledger(), []  # type: ignore[var-annotated]
    log(f"Signed up {users} users; logging in {clients} clients")
    sessions = [Client(server.url, emails[n % users], results, ledger, shared, seed=n) for n in range(clients)]
    results.latencies.clear()
    results.statuses.clear()
    memory = MemorySampler(server.process.pid)
    sampler = threading.Thread(target=memory.run, daemon=True)
    sampler.start()
    stop, killed = threading.Event(), threading.Event()

    def work(client: Client) -> None:
        while not stop.is_set():
            try:
                client.step()
            except Exception as error:
                if not killed.is_set():
                    with results.lock:
                        results.errors[f"{type(error).__name__}: {str(error)[:80]}"] += 1

    threads = [threading.Thread(target=work, args=(client,), daemon=True) for client in sessions]
    # Clients join RAMP at a time, each group once the pools have settled: fifty at once would start some thirty
    # workers together, and on a busy machine their inits would pass Lambda's 10 s limit (a 500 each, and again).
    log(f"Warming up: {RAMP} clients more each time the pools settle (for {warm_up:.0f} s)")
    for start in range(0, len(threads), RAMP):
        for thread in threads[start : start + RAMP]:
            thread.start()
        settle(memory, warm_up)
    with results.lock:  # the measured run starts now: warm-up's cold starts are not in its figures
        results.latencies.clear()
        results.statuses.clear()
    memory.measuring = True
    memory.sample()
    log(f"{clients} clients for {seconds:.0f} s{' with --persist' if persist else ''}")
    started = time.perf_counter()
    time.sleep(seconds)
    with results.lock:
        elapsed = time.perf_counter() - started
        snapshot = Results(
            {name: list(values) for name, values in results.latencies.items()},
            {name: Counter(values) for name, values in results.statuses.items()},
            Counter(results.errors),
        )
    memory.sample()
    memory.stopped.set()
    if persist:  # mid-load, as a crash comes: requests in flight are lost, and not acknowledged
        killed.set()
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    stop.set()
    for thread in threads:
        thread.join(timeout=70)
    return Run(elapsed, snapshot, memory, ledger, persist)


def settle(memory: MemorySampler, quiet: float, limit: float = 60) -> None:
    """Until the pools have grown to what the load makes them and each worker is past its cold start (imports under
    load take seconds, and would read as growth): no new process in the group, and no worker whose RSS moved by
    more than 2 MiB, for `quiet` seconds; or `limit` seconds in all. (moto grows with the data written: by design.)"""
    started = last_change = time.monotonic()
    previous: dict[int, float] = {}
    while time.monotonic() - started < limit:
        found = group_processes(memory.group)
        current = {pid: rss for pid, (name, rss, _) in found.items() if name.startswith("worker")}
        if any(pid not in previous or abs(rss - previous[pid]) > 2 for pid, rss in current.items()):
            last_change = time.monotonic()
            previous = current
        if time.monotonic() - last_change >= quiet:
            return
        time.sleep(0.5)


def check_durability(url: str, ledger: Ledger) -> tuple[str, list[str]]:
    """Every post as last acknowledged before the kill: a summary, and each loss."""
    with ledger.lock:
        expected = {
            location: etag for location, etag in ledger.acknowledged.items() if location not in ledger.in_flight
        }
        skipped = len(ledger.in_flight)
    http = requests.Session()
    lost = []
    for location, etag in expected.items():
        answer = http.get(url + location, timeout=30)
        if etag is None and answer.status_code != 404:
            lost.append(f"{location}: deleted (204) but answers {answer.status_code}")
        elif etag is not None and (answer.status_code != 200 or answer.headers.get("ETag") != etag):
            lost.append(
                f"{location}: acknowledged at {etag}, answers {answer.status_code} {answer.headers.get('ETag')}"
            )
    live = sum(etag is not None for etag in expected.values())
    summary = (
        f"after kill -9 of the process group mid-load and a restart on the same DIR, {len(expected)} posts checked "
        f"({live} as last acknowledged, {len(expected) - live} deleted): {len(lost)} lost; {skipped} with a request "
        "in flight at the kill not checked"
    )
    return summary, lost


# --- the report ----------------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def report(run: Run) -> tuple[str, list[str]]:
    """The run as markdown tables, and the reasons it fails (none: it passed)."""
    results, failures = run.results, []
    everything = [sample for samples in results.latencies.values() for sample in samples]
    total = len(everything)
    rows = []
    for operation in [name for name in MIX if name in results.latencies] + ["all"]:
        samples = everything if operation == "all" else results.latencies[operation]
        counts = (
            sum((results.statuses[name] for name in results.statuses), Counter())
            if operation == "all"
            else results.statuses[operation]
        )
        rows.append(
            [
                operation,
                str(len(samples)),
                f"{len(samples) / run.seconds:.1f}",
                f"{percentile(samples, 0.50):.1f}",
                f"{percentile(samples, 0.99):.1f}",
                f"{max(samples, default=float('nan')):.0f}",
                ", ".join(f"{status}: {n}" for status, n in sorted(counts.items())),
            ]
        )
    text = table(["operation", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "statuses"], rows)
    errors = results.server_errors()
    text += f"\n\n{total} requests in {run.seconds:.1f} s, {total / run.seconds:.0f} req/s; 5xx: {errors}"
    if errors:
        failures.append(f"{errors} answers were 5xx; the dev server said:\n    " + "\n    ".join(run.log_errors))
    for operation, counts in results.unexpected().items():
        failures.append(f"{operation} answered {dict(counts)}, none of {sorted(MIX[operation][1])}")
    for error, n in results.errors.items():
        failures.append(f"{n} requests failed: {error}")
    memory_rows = []
    for pid, samples in sorted(run.memory.samples.items(), key=lambda item: run.memory.labels[item[0]]):
        # A worker started shortly before or during the run (a pool growing) is judged after its cold start.
        warm = [rss for rss, age in zip(samples, run.memory.ages[pid], strict=True) if age >= COLD_START_SECONDS]
        born_late = len(warm) < len(samples)
        first, last, within = memory_trend(warm)
        memory_rows.append(
            [
                run.memory.labels[pid] + (" (cold start in the run)" if born_late else ""),
                str(pid),
                f"{samples[0]:.0f}",
                f"{max(samples):.0f}",
                f"{samples[-1]:.0f}",
                f"{last - first:+.1f} (bound {growth_bound(first):.0f})",
                "ok" if within else "GROWING",
            ]
        )
        if not within:
            failures.append(
                f"{run.memory.labels[pid]} (pid {pid}) grew {last - first:.1f} MiB from the run's first third to its "
                f"last, over the bound of {growth_bound(first):.1f} MiB"
            )
    text += "\n\nRSS of every process of the dev server's process group, MiB (sampled once a second):\n\n"
    text += table(["process", "pid", "start", "max", "end", "last third - first third", "trend"], memory_rows)
    if run.durability:
        text += f"\n\nDurability: {run.durability}"
    failures += [f"acknowledged, then lost: {loss}" for loss in run.lost]
    return text, failures


def compare(plain: Run, durable: Run) -> str:
    """The cost of --persist: each operation's req/s, p50 and p99 in the two runs, side by side."""
    rows = []
    for operation in [name for name in MIX if name in plain.results.latencies] + ["all"]:
        figures = []
        for run in (plain, durable):
            latencies = run.results.latencies
            samples = (
                [sample for values in latencies.values() for sample in values]
                if operation == "all"
                else latencies.get(operation, [])
            )
            figures.append((len(samples) / run.seconds, percentile(samples, 0.5), percentile(samples, 0.99)))
        (rate, p50, p99), (rate_d, p50_d, p99_d) = figures
        rows.append(
            [operation, f"{rate:.1f}", f"{rate_d:.1f}", f"{p50:.1f}", f"{p50_d:.1f}", f"{p99:.1f}", f"{p99_d:.1f}"]
        )
    return table(
        ["operation", "req/s without", "with --persist", "p50 ms without", "with", "p99 ms without", "with"], rows
    )


def record(markdown: str, document: Path) -> None:
    """Put the run's tables in docs/benchmarks.md's soak section (kept by `make bench`, which writes the rest)."""
    heading = SOAK_HEADING
    text = document.read_text()
    before = text.split(heading, 1)[0].rstrip()
    document.write_text(f"{before}\n\n{heading}\n\n{markdown.strip()}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 60)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", 50)))
    parser.add_argument("--persist", action="store_true", help="run with --persist, then kill -9 and check every write")
    parser.add_argument("--both", action="store_true", help="a run without --persist, then one with it")
    parser.add_argument("--record", action="store_true", help="write the tables into docs/benchmarks.md's soak section")
    options = parser.parse_args(argv)
    failed, sections, runs = False, [], []
    for persist in [False, True] if options.both else [options.persist]:
        run = soak(options.seconds, options.clients, persist, log=lambda line: print(line, flush=True))
        runs.append(run)
        text, failures = report(run)
        stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {options.clients} clients, {os.cpu_count()} CPUs"
        sections.append(f"### {'With' if persist else 'Without'} --persist ({stamp})\n\n{text}\n")
        print(f"\n{sections[-1]}", flush=True)
        for failure in failures:
            print(f"FAIL: {failure}", flush=True)
        failed = failed or bool(failures)
    if len(runs) == 2:
        sections.append(f"### The cost of --persist\n\n{compare(*runs)}\n")
        print(f"\n{sections[-1]}", flush=True)
    if options.record:
        record("\n".join(sections), ROOT / "docs" / "benchmarks.md")
    print("soak: FAILED" if failed else "soak: passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

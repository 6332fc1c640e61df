"""benchmarks/soak.py's own logic (`make soak` itself takes minutes): percentiles, the memory trend and its bound,
the /proc reader, and the report's verdict."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from benchmarks.soak import (
    COLD_START_SECONDS,
    Ledger,
    MemorySampler,
    Results,
    Run,
    group_processes,
    growth_bound,
    memory_trend,
    percentile,
    record,
)


def test_percentile_is_the_nearest_rank():
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.50) == 50
    assert percentile(samples, 0.99) == 99
    assert percentile([3.0, 1.0, 2.0], 0.99) == 3
    assert percentile([7.0], 0.5) == 7


def test_memory_trend_compares_the_first_and_last_thirds_medians():
    flat = [100.0, 101.0, 99.0, 100.0, 102.0, 100.0, 101.0, 100.0, 99.0]
    assert memory_trend(flat) == (100.0, 100.0, True)
    leaking = [100.0 + 5 * n for n in range(12)]  # 5 MiB a second
    first, last, within = memory_trend(leaking)
    assert (first, last) == (107.5, 147.5)
    assert last - first > growth_bound(first)
    assert not within
    assert memory_trend([1.0, 500.0])[2]  # too few samples to call a trend


def fake_proc(root: Path, pid: int, group: int, command: list[str], rss_kb: int, started_ticks: int) -> None:
    entry = root / str(pid)
    entry.mkdir()
    # pid (comm with ") (" in it) state ppid pgrp session ... field 22 is starttime
    fields = ["S", "1", str(group)] + ["0"] * 16 + [str(started_ticks)] + ["0"] * 10
    (entry / "stat").write_text(f"{pid} (odd) (name) " + " ".join(fields))
    (entry / "status").write_text(f"Name:\tpython\nVmRSS:\t  {rss_kb} kB\n")
    (entry / "cmdline").write_bytes(b"\0".join(word.encode() for word in command) + b"\0")


def test_group_processes_reads_the_group_from_proc_with_labels_rss_and_age(tmp_path: Path):
    import benchmarks.soak as soak

    (tmp_path / "uptime").write_text("1000.00 50.00\n")
    ticks = soak.CLOCK_TICKS
    fake_proc(tmp_path, 10, 10, ["python", "-m", "devserver", "--port", "1"], 61440, 100 * ticks)
    fake_proc(tmp_path, 11, 10, ["python", "-m", "devserver.moto_process", "5000"], 102400, 100 * ticks)
    fake_proc(
        tmp_path, 12, 10, ["python", "-I", "-S", "/x/devserver/worker.py", "5", "PostsGetFunction"], 10240, 990 * ticks
    )
    fake_proc(tmp_path, 13, 99, ["bash"], 1024, 0)  # another group
    (tmp_path / "self").mkdir()

    found = group_processes(10, tmp_path)

    assert found == {
        10: ("dev server (gateway)", 60.0, 900.0),
        11: ("moto", 100.0, 900.0),
        12: ("worker PostsGetFunction", 10.0, 10.0),
    }


def run_with(statuses: dict[str, Counter[int]], memory: dict[int, list[float]], ages: float = 600) -> Run:
    results = Results()
    for operation, counts in statuses.items():
        for status, n in counts.items():
            for _ in range(n):
                results.add(operation, status, 5.0)
    sampler = MemorySampler(group=1)
    for pid, samples in memory.items():
        sampler.labels[pid] = f"process {pid}"
        sampler.samples[pid] = samples
        sampler.ages[pid] = [ages + n for n in range(len(samples))]
    return Run(10.0, results, sampler, Ledger(), persist=False)


def test_report_passes_a_clean_run_and_prints_every_operation():
    from benchmarks.soak import report

    run = run_with(
        {"list posts": Counter({200: 90}), "get post If-None-Match": Counter({304: 5, 200: 5})},
        {1: [50.0] * 30},
    )
    text, failures = report(run)
    assert failures == []
    assert "| list posts | 90 | 9.0 | 5.0 | 5.0 | 5 | 200: 90 |" in text
    assert "| all | 100 | 10.0 |" in text
    assert "5xx: 0" in text
    assert "| process 1 | 1 | 50 | 50 | 50 | +0.0 (bound 17) | ok |" in text


def test_report_fails_on_a_5xx_an_unexpected_status_a_lost_write_and_a_growing_process():
    from benchmarks.soak import report

    run = run_with(
        {"create post": Counter({201: 10, 500: 1}), "auth me": Counter({200: 5, 401: 2})},
        {1: [50.0 + 3 * n for n in range(30)], 2: [10.0 + 3 * n for n in range(30)]},
    )
    run.memory.ages[2] = [float(n) for n in range(30)]  # a worker in its cold start: its first samples left out
    run.lost = ['/api/posts/a: acknowledged at "v2", answers 404 None']
    text, failures = report(run)
    assert failures[0].startswith("1 answers were 5xx")
    assert "create post answered {500: 1}, none of [201]" in failures
    assert "auth me answered {401: 2}, none of [200]" in failures
    assert any(failure.startswith("process 1 (pid 1) grew 60.0 MiB") for failure in failures)
    assert any(failure.startswith("process 2 (pid 2) grew") for failure in failures)  # still growing once warm
    assert "process 2 (cold start in the run)" in text
    assert failures[-1] == 'acknowledged, then lost: /api/posts/a: acknowledged at "v2", answers 404 None'
    assert COLD_START_SECONDS < 30


def test_record_replaces_only_the_soak_section(tmp_path: Path):
    document = tmp_path / "benchmarks.md"
    document.write_text("# Benchmarks\n\n## 5. Dev server\n\ntable\n\n## 6. Soak run (`make soak`)\n\nold\n")
    record("new tables\n", document)
    assert (
        document.read_text()
        == "# Benchmarks\n\n## 5. Dev server\n\ntable\n\n## 6. Soak run (`make soak`)\n\nnew tables\n"
    )


def test_compare_puts_the_two_runs_side_by_side():
    from benchmarks.soak import compare

    plain = run_with({"create post": Counter({201: 20})}, {})
    durable = run_with({"create post": Counter({201: 10})}, {})
    assert "| create post | 2.0 | 1.0 | 5.0 | 5.0 | 5.0 | 5.0 |" in compare(plain, durable)

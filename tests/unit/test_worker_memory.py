"""A worker's "Max Memory Used" is its own, whatever the size of the process that started it.

Linux carries getrusage's ru_maxrss over fork and exec: read alone, it made a worker started by pytest (hundreds of MB
into `make test`) report pytest's peak and be stopped as over its function's MemorySize (256 MB), and would do the
same to a worker started by a dev server that has grown.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

REPORT = "from devserver.worker import max_memory_mb; print(max_memory_mb())"


def worker_memory() -> int:
    return int(
        subprocess.run([sys.executable, "-c", REPORT], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    )


def test_a_worker_started_by_a_large_process_reports_its_own_memory():
    ballast = bytearray(300 * 1024 * 1024)
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))  # touched, so resident

    reported = worker_memory()

    assert 0 < reported < 150, reported  # a bare interpreter importing the worker module, not this process's 300 MB
    del ballast

"""mutmut 3 for a layer that is imported as `apikit`, not as `layers.shared.apikit`.

mutmut names a mutant after its file's path (`layers/shared/apikit/auth.py` gives `layers.shared.apikit.auth.x_...`)
and its trampolines after the module that runs them (`apikit.auth`, as Lambda's /opt/python and pytest's
`pythonpath = ["layers/shared"]` import it). The two must agree, or every mutant is "no tests" (mutmut stops with
"tests recorded trampoline hits but none match any mutant key"). mutmut already drops a `src.` prefix for src layouts;
this drops `layers.shared.` the same way, then runs mutmut's own command line: `python scripts/run_mutmut.py run`.

mutmut keeps a verdict until the mutated function changes, also a survivor's after a test was added to kill it.
So before a `run` of every mutant (no names given), this forgets the verdict of each mutant that was not killed
(survived, no tests, suspicious, ...) and mutmut tests those again against today's tests. `rm -rf mutants`, or
`make mutate FRESH=1`, starts over (needed after a test that killed mutants was weakened or deleted).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import signal
import sys
import time
from pathlib import Path

import mutmut

PINNED = "3.8.1"  # requirements-mutate.txt: the functions patched below are this version's
PREFIX = "layers.shared."

if mutmut.__version__ != PINNED:
    sys.exit(f"scripts/run_mutmut.py patches mutmut {PINNED}, found {mutmut.__version__}: check get_mutant_name")

import mutmut.__main__ as mutmut_main  # noqa: E402
from mutmut.mutation import file_mutation  # noqa: E402
from mutmut.utils import format_utils  # noqa: E402
from mutmut.workers import timeout  # noqa: E402

_get_mutant_name = format_utils.get_mutant_name


def get_mutant_name(relative_source_path: Path, mutant_method_name: str) -> str:
    return _get_mutant_name(relative_source_path, mutant_method_name).removeprefix(PREFIX)


for module in (format_utils, mutmut_main, file_mutation):
    assert module.get_mutant_name is _get_mutant_name, f"{module.__name__} no longer uses get_mutant_name"
    module.get_mutant_name = get_mutant_name  # type: ignore[attr-defined]


def _timeout_checker_thread() -> None:
    """mutmut's own, but a deadline signals a process only while it is still one of ours (our process group).

    mutmut leaves the deadline of a finished worker in its heap and sends SIGXCPU to that pid when it is reached;
    on a busy machine (pid_max 32768) the pid may by then be someone else's process.
    """
    with timeout._heap_lock:
        while True:
            while not timeout._timeout_heap:
                timeout._heap_lock.wait()
            now = time.time()
            while timeout._timeout_heap and timeout._timeout_heap[0][0] <= now:
                _, pid = heapq.heappop(timeout._timeout_heap)
                with contextlib.suppress(ProcessLookupError):
                    if os.getpgid(pid) == os.getpgrp():
                        os.kill(pid, signal.SIGXCPU)
            if timeout._timeout_heap:
                timeout._heap_lock.wait(timeout=max(0, timeout._timeout_heap[0][0] - now))


assert not timeout._checker_started
timeout._timeout_checker_thread = _timeout_checker_thread

# Killed, or timed out (mutmut.stats.status_by_exit_code). Not 255, which mutmut also calls a timeout: it is a mutant
# whose test run raised (os._exit(-1) in the fork server), e.g. pytest finding none of the tests named.
KILLED = {1, 3, 24, -24, 36, 152}


def forget_unkilled(mutants: Path = Path("mutants")) -> int:
    """Set every verdict but killed and timed out back to None ("not checked"), so `mutmut run` tests it again."""
    forgotten = 0
    for meta in mutants.rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        codes = data["exit_code_by_key"]
        again = [name for name, code in codes.items() if code is not None and code not in KILLED]
        if again:
            codes.update(dict.fromkeys(again, None))
            meta.write_text(json.dumps(data, indent=4))
            forgotten += len(again)
    return forgotten


if __name__ == "__main__":
    names = [arg for arg in sys.argv[2:] if not arg.startswith("-") and not arg.isdigit()]
    if sys.argv[1:2] == ["run"] and not names and (forgotten := forget_unkilled()):
        print(f"Testing again {forgotten} mutants that were not killed last time")
    mutmut_main.cli()

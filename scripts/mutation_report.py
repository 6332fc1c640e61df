"""The mutation score per module of the layer, from mutmut's results under mutants/, against the allow-list.

    python scripts/mutation_report.py                      # table + every unexplained mutant with its diff
    python scripts/mutation_report.py --write docs/testing.md   # also replace the table between its markers there

Reads the `.meta` files `mutmut run` leaves next to each mutated module (mutants/layers/shared/apikit/**.py.meta:
mutant name -> exit code) and tests/mutation/equivalent.toml, the reviewed list of mutants no test can tell from
the original. An allow-list entry names a mutant and the mutation itself (the changed line before and after), and
matches by function and mutation, not by number: mutmut numbers a function's mutants in order, so an edit to the
function renumbers them, and an entry must not silently move onto another mutation.

Exits 1 when any mutant that is not allow-listed survived, was covered by no test, or has no verdict (suspicious,
segfault, not checked); also when an entry matches no mutant or matches one that was killed (it was not equivalent:
remove it). Timeouts count as killed, as mutmut counts them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = Path("layers/shared/apikit")
ALLOW_LIST = Path("tests/mutation/equivalent.toml")
MARKERS = ("<!-- mutation-table:start -->", "<!-- mutation-table:end -->")

# mutmut's exit codes (mutmut.stats.status_by_exit_code in 3.8.1), folded into the report's columns.
# 255 is not a timeout, whatever mutmut says: the fork server exits -1 when running a mutant's tests raised (pytest
# found none of the tests named, say), and that kills nothing.
KILLED = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout"}
SURVIVED, NO_TESTS = {0}, {5, 33}
SKIPPED = {34, 37}  # skipped, or caught by a type check: neither is configured here


@dataclass(frozen=True)
class Mutant:
    name: str  # apikit.auth.x_issue_access_token__mutmut_3
    path: Path  # layers/shared/apikit/auth.py
    exit_code: int | None

    @property
    def module(self) -> str:
        return self.function.rpartition(".")[0]

    @property
    def function(self) -> str:
        return self.name.partition("__mutmut_")[0]

    @property
    def status(self) -> str:
        if self.exit_code in KILLED:
            return KILLED[self.exit_code]
        if self.exit_code in SURVIVED:
            return "survived"
        if self.exit_code in NO_TESTS:
            return "no tests"
        if self.exit_code in SKIPPED:
            return "skipped"
        other = {None: "not checked", -9: "segfault", -11: "segfault", 2: "interrupted", 255: "error"}
        return other.get(self.exit_code, "suspicious")


def load_mutants() -> list[Mutant]:
    mutants = []
    for meta in sorted((ROOT / "mutants" / LAYER).rglob("*.py.meta")):
        path = meta.relative_to(ROOT / "mutants").with_suffix("")
        for name, exit_code in json.loads(meta.read_text())["exit_code_by_key"].items():
            mutants.append(Mutant(name, path, exit_code))
    return mutants


def diff(mutant: Mutant) -> str:
    """`mutmut show`'s unified diff of the mutated function against the original (mutmut's own code, no process)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    return get_diff_for_mutant(mutant.name, path=mutant.path)


def mutation(diff_text: str) -> tuple[str, str]:
    """The changed lines of a diff, before and after, each stripped and joined: what an allow-list entry records."""
    lines = diff_text.splitlines()[2:]  # without the ---/+++ header
    old = [line[1:].strip() for line in lines if line.startswith("-")]
    new = [line[1:].strip() for line in lines if line.startswith("+")]
    return "\n".join(old), "\n".join(new)


@dataclass(frozen=True)
class Entry:
    mutant: str
    old: str
    new: str
    reason: str

    @property
    def function(self) -> str:
        return self.mutant.partition("__mutmut_")[0]


def load_allow_list(path: Path) -> list[Entry]:
    entries = []
    for number, item in enumerate(tomllib.loads(path.read_text()).get("equivalent", []), start=1):
        missing = {"mutant", "old", "new", "reason"} - item.keys()
        if missing or not str(item.get("reason", "")).strip():
            sys.exit(f"{path}: entry {number} needs mutant, old, new and a reason (missing {sorted(missing)})")
        entries.append(Entry(item["mutant"], item["old"].strip(), item["new"].strip(), item["reason"].strip()))
    return entries


def match(entries: list[Entry], mutants: list[Mutant]) -> tuple[dict[str, Entry], list[str]]:
    """Each entry's mutant, by function and mutation (the named number first); and the problems found."""
    by_function: dict[str, list[Mutant]] = defaultdict(list)
    for mutant in mutants:
        by_function[mutant.function].append(mutant)
    matched: dict[str, Entry] = {}
    problems = []
    for entry in entries:
        candidates = sorted(by_function.get(entry.function, []), key=lambda m: m.name != entry.mutant)
        found = next((m for m in candidates if mutation(diff(m)) == (entry.old, entry.new)), None)
        if found is None:
            problems.append(f"allow-list entry {entry.mutant} matches no mutant of {entry.function} any more")
        elif found.name in matched:
            problems.append(f"allow-list entries {matched[found.name].mutant} and {entry.mutant} are one mutant")
        elif found.status in {"killed", "timeout"}:
            problems.append(f"allow-listed {found.name} was {found.status}: it is not equivalent, remove its entry")
        else:
            matched[found.name] = entry
    return matched, problems


COLUMNS = ("module", "mutants", "killed", "survived", "equivalent", "no tests", "timeout", "other", "score")


def table(mutants: list[Mutant], equivalent: dict[str, Entry]) -> list[str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for mutant in mutants:
        column = "equivalent" if mutant.name in equivalent else mutant.status
        if column not in COLUMNS:
            column = "other"
        for row in (mutant.module, "total"):
            counts[row]["mutants"] += 1
            counts[row][column] += 1
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in [*sorted(name for name in counts if name != "total"), "total"]:
        count = counts[row]
        # The score: mutants a test tells apart (killed, or timed out) of those one could, i.e. not equivalent.
        detectable = count["mutants"] - count["equivalent"]
        score = f"{100 * (count['killed'] + count['timeout']) / detectable:.1f}%" if detectable else "-"
        cells = [f"`{row}`" if row != "total" else "**total**", *(str(count[c]) for c in COLUMNS[1:-1]), score]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_table(document: Path, lines: list[str]) -> None:
    text = document.read_text()
    pattern = re.compile(re.escape(MARKERS[0]) + ".*?" + re.escape(MARKERS[1]), re.DOTALL)
    if not pattern.search(text):
        sys.exit(f"{document}: no {MARKERS[0]} ... {MARKERS[1]} section to write the table into")
    replacement = "\n".join([MARKERS[0], *lines, MARKERS[1]])
    document.write_text(pattern.sub(lambda _: replacement, text, count=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, metavar="DOC", help="replace the table between the markers in DOC")
    parser.add_argument("--allow-list", type=Path, default=ALLOW_LIST)
    args = parser.parse_args()

    import os

    os.chdir(ROOT)  # mutmut's diff reads mutants/ relative to the working directory
    mutants = load_mutants()
    if not mutants:
        print("No results under mutants/: run `make mutate` (or scripts/run_mutmut.py run) first.", file=sys.stderr)
        return 1
    equivalent, problems = match(load_allow_list(args.allow_list), mutants)
    lines = table(mutants, equivalent)
    print("\n".join(lines))
    if args.write:
        write_table(args.write, lines)
        print(f"\nwrote the table into {args.write}")

    if not any(mutant.status == "killed" for mutant in mutants):
        problems.append("no mutant was killed: the tests did not run the mutated copies under mutants/")
    unexplained = [m for m in mutants if m.name not in equivalent and m.status not in {"killed", "timeout"}]
    for mutant in unexplained:
        print(f"\n# {mutant.name}: {mutant.status}\n{diff(mutant)}")
    if unexplained:
        statuses = Counter(mutant.status for mutant in unexplained)
        problems.append(
            f"{len(unexplained)} mutants neither killed nor allow-listed ("
            + ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
            + "): write the test that kills each, or, if no test can tell it from the original, add it to "
            + f"{args.allow_list} with the reason"
        )
    for problem in problems:
        print(f"\nmutation report: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

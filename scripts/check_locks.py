"""Check, offline, that each hashed lock (requirements.txt) still matches the requirements.in it is generated from.

`sam build` and the dev server read a layer's or function's requirements.txt; a person edits requirements.in beside
it and runs `make lock` (uv pip compile --generate-hashes). This fails when that step was forgotten:
- a layers/*/ or functions/*/ directory with a requirements.txt but no requirements.in, or the other way round;
- a package of requirements.in that the lock does not pin, or pins at a version the .in excludes;
- a package the lock still lists as coming from requirements.in (`# via -r requirements.in`) that the .in dropped;
- a lock entry that is not `name==version` with at least one --hash (pip then refuses the whole file).
It proves that each lock satisfies its .in, not that a fresh resolution would give the same transitive pins: that needs
the package index, and `make lock` does it. Needs `packaging` (in the tools venv and the dev venv).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
FIX = "run `make lock` and commit the requirements.txt it writes"
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)\s*(?:;[^\\]*)?\\?\s*$")
HASH = re.compile(r"^\s*--hash=sha256:[0-9a-f]{64}\s*\\?\s*$")


@dataclass
class Pinned:
    version: str
    hashes: int = 0
    via: set[str] = field(default_factory=set)


def read_input(path: Path) -> dict[str, Requirement]:
    """requirements.in: one requirement a line, comments allowed; options (-r, -c, --index-url...) are not."""
    requirements: dict[str, Requirement] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            raise ValueError(f"{path}:{number}: options are not supported here: {line}")
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise ValueError(f"{path}:{number}: {error}") from error
        requirements[canonicalize_name(requirement.name)] = requirement
    return requirements


def read_lock(path: Path) -> tuple[dict[str, Pinned], list[str]]:
    """uv's (and pip-compile's) layout: `name==version \\`, its `--hash=sha256:...` lines, then `# via` comments."""
    pinned: dict[str, Pinned] = {}
    problems: list[str] = []
    current: Pinned | None = None
    in_via = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped:
            continue
        if HASH.match(line) and current is not None:
            current.hashes += 1
        elif line.startswith("#"):
            current, in_via = None, False  # the header
        elif stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            if current is not None and text.startswith("via"):
                in_via = True
                text = text[len("via") :].strip()
            if current is not None and in_via and text:
                current.via.add(text)
        elif match := PIN.match(line):
            name = canonicalize_name(match["name"])
            current, in_via = Pinned(match["version"]), False
            pinned[name] = current
        else:
            problems.append(f"line {number} is not `name==version` followed by its hashes: {stripped}")
            current = None
    problems += [f"{name}=={entry.version} has no --hash" for name, entry in pinned.items() if not entry.hashes]
    return pinned, problems


def check_directory(directory: Path) -> list[str]:
    source, lock = directory / "requirements.in", directory / "requirements.txt"
    shown = lock.relative_to(ROOT) if lock.is_relative_to(ROOT) else lock
    if not source.is_file():
        return [f"{shown} has no requirements.in beside it: move its requirements there, then {FIX}"]
    if not lock.is_file():
        return [f"{shown} is missing: {FIX}"]
    try:
        wanted = read_input(source)
    except ValueError as error:
        return [str(error)]
    pinned, problems = read_lock(lock)
    for name, requirement in wanted.items():
        if name not in pinned:
            problems.append(f"requirements.in asks for {requirement}, which it does not pin")
        elif not requirement.specifier.contains(pinned[name].version, prereleases=True):
            problems.append(f"requirements.in asks for {requirement}, it pins {name}=={pinned[name].version}")
    for name, entry in pinned.items():
        if "-r requirements.in" in entry.via and name not in wanted:
            problems.append(f"it still has {name}=={entry.version} from requirements.in, which no longer asks for it")
    return [f"{shown} is stale: {problem}" for problem in problems] + ([f"{shown}: {FIX}"] if problems else [])


def lock_directories(root: Path) -> list[Path]:
    """Every layers/<name>/ and functions/<name>/ with a requirements.in or a requirements.txt."""
    patterns = [f"{folder}/*/requirements.{suffix}" for folder in ("layers", "functions") for suffix in ("in", "txt")]
    return sorted({path.parent for pattern in patterns for path in root.glob(pattern)})


def main(argv: list[str]) -> int:
    directories = [Path(arg).resolve() for arg in argv] or lock_directories(ROOT)
    problems = [problem for directory in directories for problem in check_directory(directory)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"locks: {len(directories)} requirements.txt match their requirements.in, every package pinned with hashes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

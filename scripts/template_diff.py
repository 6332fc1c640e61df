"""What a change to template.yaml changes in what is deployed: both templates through Fn::ForEach and SAM's transform
(scripts/sam_transform.py), then every resource, condition and output compared, logical id by logical id.

    .venv-tools/bin/python scripts/template_diff.py [--base main] [template.yaml]
    make template-diff BASE=main

The base is a git revision: its template.yaml is read with `git show`. Prints each difference as a path and the
values before and after, and exits 1 if there is any: a refactor that should change nothing exits 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sam_transform import transformed

SECTIONS = ("Resources", "Conditions", "Outputs")
ABSENT = object()


def show(value: Any) -> str:
    return "(absent)" if value is ABSENT else json.dumps(value, sort_keys=True, default=str)


def differences(before: Any, after: Any, path: str) -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            found += differences(before.get(key, ABSENT), after.get(key, ABSENT), f"{path}.{key}")
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = enumerate(zip(before, after, strict=True))
        return [line for index, (old, new) in pairs for line in differences(old, new, f"{path}[{index}]")]
    # Strictly: 30 and "30" deploy alike but are reported, so that nothing differs unseen.
    return [] if show(before) == show(after) else [f"{path}: {show(before)} -> {show(after)}"]


def base_template(revision: str, path: Path) -> Path:
    relative = path.resolve().relative_to(Path.cwd().resolve())
    command = ["git", "show", f"{revision}:{relative.as_posix()}"]  # git from PATH, as the Makefile's
    text = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    # Beside the template, so that CodeUri and ContentUri resolve the same way.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=path.resolve().parent, delete=False) as handle:
        handle.write(text)
    return Path(handle.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("template", nargs="?", default="template.yaml", type=Path)
    parser.add_argument("--base", default="main", help="git revision whose template.yaml is the 'before'")
    options = parser.parse_args()
    base = base_template(options.base, options.template)
    try:
        before, after = transformed(base), transformed(options.template)
    finally:
        base.unlink()
    found = []
    for section in SECTIONS:
        found += differences(before.get(section, {}), after.get(section, {}), section)
    ids_before, ids_after = set(before.get("Resources", {})), set(after.get("Resources", {}))
    print(
        f"{options.base}:{options.template} -> {options.template}, both expanded and through SAM's transform: "
        f"{len(ids_before)} resources before, {len(ids_after)} after, "
        f"{len(ids_before - ids_after)} removed, {len(ids_after - ids_before)} added"
    )
    for line in found:
        print(f"  {line}")
    print("no difference" if not found else f"{len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

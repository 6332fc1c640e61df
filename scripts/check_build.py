"""Check `sam build` output before it can be deployed: Lambda runs python3.13 on arm64 from a read-only directory.

1. Every native extension in the shared layer is an aarch64 ELF (pydantic_core's must be there): an x86_64 wheel
   would import fine here and fail on Lambda with "invalid ELF header".
2. Every .py file in every artifact has a hash-based .pyc for this Python next to it. `sam package` zips files with
   a 1980 timestamp, so timestamp-based .pyc files would never match their sources on Lambda and every cold start
   would compile again, in memory, because /var/task and /opt cannot be written.

Standard library only; run it with the python3.13 that compiled the .pyc files.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

EM_AARCH64 = 183  # e_machine of an ARM 64-bit ELF file
HASH_BASED = 0b01  # the flags word of a PEP 552 .pyc: bit 0 set for hash-based (bit 1: checked)


def elf_machine(path: Path) -> int | None:
    """e_machine from the ELF header, or None when this is not a little-endian 64-bit ELF file."""
    header = path.read_bytes()[:20]
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[4] != 2 or header[5] != 1:
        return None
    return int.from_bytes(header[18:20], "little")


def describe(path: Path, file_command: str | None) -> tuple[bool, str]:
    """(is aarch64, what `file` or the ELF header says)."""
    if file_command:
        output = subprocess.run([file_command, "-b", str(path)], capture_output=True, text=True, check=True).stdout
        return "ARM aarch64" in output, output.strip()
    machine = elf_machine(path)
    return machine == EM_AARCH64, f"ELF e_machine={machine} (no `file` command; {EM_AARCH64} is aarch64)"


def check_native_code(build: Path) -> list[str]:
    layers = sorted(build.glob("SharedLayer*/python"))
    if not layers:
        return [f"no SharedLayer*/python under {build}: run `sam build` first"]
    problems: list[str] = []
    file_command = shutil.which("file")
    for layer in layers:
        pydantic_core = sorted(layer.glob("pydantic_core/*.so"))
        if not pydantic_core:
            problems.append(f"{layer}: no pydantic_core/*.so: the layer's dependencies are missing")
        for library in sorted(layer.rglob("*.so")):
            ok, description = describe(library, file_command)
            if library in pydantic_core:
                print(f"{library.relative_to(build)}: {description}")
            if not ok:
                problems.append(f"{library.relative_to(build)} is not aarch64: {description}")
    return problems


def check_bytecode(build: Path) -> tuple[int, list[str]]:
    sources = [path for path in build.rglob("*.py") if "__pycache__" not in path.parts]
    missing: list[str] = []
    for source in sources:
        cached = Path(importlib.util.cache_from_source(str(source)))
        header = cached.read_bytes()[:8] if cached.exists() else b""
        if header[:4] != importlib.util.MAGIC_NUMBER or not int.from_bytes(header[4:8], "little") & HASH_BASED:
            missing.append(str(source.relative_to(build)))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        tag = sys.implementation.cache_tag
        return len(sources), [f"{len(missing)} .py files without a hash-based {tag} .pyc: {shown}"]
    return len(sources), []


def main(build: Path) -> int:
    if sys.version_info[:2] != (3, 13):
        print(f"warning: checking .pyc files for Python {sys.version_info[0]}.{sys.version_info[1]}; Lambda runs 3.13")
    problems = check_native_code(build)
    sources, bytecode_problems = check_bytecode(build)
    problems += bytecode_problems
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{build}: native code is aarch64; {sources} .py files have hash-based .pyc files")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build")))

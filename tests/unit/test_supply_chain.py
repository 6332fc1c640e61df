"""What watches the pinned versions: every action pinned by commit SHA, Dependabot over every place a pin lives."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_locks  # noqa: E402

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def test_every_action_is_pinned_by_commit_sha_with_its_version_in_a_comment() -> None:
    """A tag can be moved to other code; a commit cannot. The comment is what Dependabot reads and updates."""
    seen = 0
    for workflow in WORKFLOWS:
        for number, line in enumerate(workflow.read_text().splitlines(), 1):
            if not (match := USES.match(line)) or match["ref"].startswith("./"):
                continue  # a reusable workflow of this repository is read at the same commit
            seen += 1
            where = f"{workflow.name}:{number}: {line.strip()}"
            assert PINNED.match(match["ref"]), f"{where}: pin it by its commit's 40-character SHA"
            assert re.fullmatch(r"\s+# v\d+(\.\d+)*", match["comment"]), f"{where}: end it with '# vX.Y.Z'"
    assert seen >= 5


def test_dependabot_watches_the_venvs_every_lock_npm_and_the_actions() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    for ecosystem in ("pip", "npm", "github-actions"):
        assert updates[ecosystem]["directory"] == "/", ecosystem
    locked = {"/" + str(directory.relative_to(ROOT)) for directory in check_locks.lock_directories(ROOT)}
    assert set(updates["uv"]["directories"]) == locked, "list each directory with a requirements.in under uv"
    for update in config["updates"]:
        assert update["schedule"]["interval"] == "weekly"
        assert update.get("groups"), f"{update['package-ecosystem']}: group its minor and patch updates"

"""scripts/check_locks.py: a layer's or function's requirements.txt (the hashed lock) must match its requirements.in."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import check_locks  # noqa: E402


def test_every_lock_of_the_project_matches_its_input(capsys: pytest.CaptureFixture[str]) -> None:
    directories = check_locks.lock_directories(ROOT)
    assert ROOT / "layers" / "shared" in directories
    assert ROOT / "functions" / "checkout" in directories
    assert check_locks.main([]) == 0, capsys.readouterr().err


@pytest.fixture
def weather(tmp_path: Path) -> Path:
    """A copy of functions/weather: requests pinned in requirements.in, its lock with four more packages."""
    directory = tmp_path / "weather"
    directory.mkdir()
    for name in ("requirements.in", "requirements.txt"):
        shutil.copy(ROOT / "functions" / "weather" / name, directory / name)
    return directory


def errors(directory: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert check_locks.main([str(directory)]) == 1
    return capsys.readouterr().err


def test_a_pin_changed_in_the_input_but_not_locked_names_the_file_and_the_fix(weather, capsys):
    source = weather / "requirements.in"
    source.write_text(source.read_text().replace("requests==2.34.2", "requests==2.99.0"))
    err = errors(weather, capsys)
    assert "requirements.txt is stale: requirements.in asks for requests==2.99.0, it pins requests==2.34.2" in err
    assert "run `make lock`" in err


def test_a_requirement_added_to_the_input_but_not_locked(weather, capsys):
    (weather / "requirements.in").write_text((weather / "requirements.in").read_text() + "stripe==16.1.0\n")
    assert "requirements.in asks for stripe==16.1.0, which it does not pin" in errors(weather, capsys)


def test_a_requirement_dropped_from_the_input_but_still_locked(weather, capsys):
    (weather / "requirements.in").write_text("# nothing left\n")
    assert "it still has requests==2.34.2 from requirements.in, which no longer asks for it" in errors(weather, capsys)


def test_an_entry_without_hashes_fails_as_pip_would(weather, capsys):
    (weather / "requirements.txt").write_text("requests==2.34.2\n    # via -r requirements.in\n")
    assert "requests==2.34.2 has no --hash" in errors(weather, capsys)


def test_an_unpinned_entry_fails(weather, capsys):
    (weather / "requirements.txt").write_text("requests>=2 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    assert "line 1 is not `name==version` followed by its hashes" in errors(weather, capsys)


def test_a_plain_requirements_file_without_an_input_is_refused(weather, capsys):
    (weather / "requirements.in").unlink()
    assert "has no requirements.in beside it" in errors(weather, capsys)


def test_an_input_without_its_lock_is_refused(weather, capsys):
    (weather / "requirements.txt").unlink()
    assert "requirements.txt is missing: run `make lock`" in errors(weather, capsys)

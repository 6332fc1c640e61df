"""The dev server as a child process on a free port, for the integration tests and the benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from devserver.aws import free_port

ROOT = Path(__file__).resolve().parents[1]


class DevServerProcess:
    """`python -m devserver` started and waited for until it listens; `stop` is a Ctrl-C."""

    def __init__(self, template: Path, log_path: Path, *args: str, start_timeout: float = 300) -> None:
        # 300 s: the first start on a machine pip-installs each dependency set once (see devserver.runtime).
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devserver", "--template", str(template), "--port", str(self.port), *args],
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as a terminal gives it (see stop_group)
        )
        deadline = time.monotonic() + start_timeout
        while "Running on" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dev server did not start:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.log_path.read_text()

    @property
    def aws_endpoint(self) -> str:
        found = re.search(r"AWS endpoint: (\S+)", self.output())
        if found is None:
            raise RuntimeError("the dev server did not print its AWS endpoint")
        return found.group(1)

    def stop(self, group: bool = False) -> int:
        """Ctrl-C, as a user would; returns the exit code. `group`: to every process of the server's group, as a
        terminal sends it, workers and moto included."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, signal.SIGINT)
            else:
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode

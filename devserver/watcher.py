"""Hot reload: an edited function restarts only its own workers; the layer restarts its users; the template
reloads routes and functions."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import watch

from devserver.template import App


def affected_functions(app: App, changed: set[Path]) -> set[str]:
    functions = set()
    for logical_id, function in app.functions.items():
        roots = [function.code_dir, *function.layer_dirs]
        if any(path.is_relative_to(root) for path in changed for root in roots):
            functions.add(logical_id)
    return functions


class Watcher:
    def __init__(
        self,
        app: Callable[[], App],
        on_functions: Callable[[set[str]], None],
        on_template: Callable[[], None],
    ) -> None:
        self.app = app
        self.on_functions = on_functions
        self.on_template = on_template
        self.stop_event = threading.Event()
        self.armed = threading.Event()  # set once the first watch is in place
        self.thread = threading.Thread(target=self._run, name="watcher", daemon=True)

    def start(self) -> None:
        """Returns once files are watched, so that an edit made right after "Running on" is never missed."""
        self.thread.start()
        self.armed.wait(timeout=10)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=2)

    def _paths(self) -> list[Path]:
        app = self.app()
        roots = {app.path, *(path for path in app.template_files if path.exists())}
        for function in app.functions.values():
            roots.update(path for path in (function.code_dir, *function.layer_dirs) if path.exists())
        return sorted(roots)  # a CodeUri that does not exist yet is watched from the next template reload

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._watch()
            except Exception as error:
                print(f"watcher: {error!r}; watching again", file=sys.stderr, flush=True)
                self.stop_event.wait(1)

    def _watch(self) -> None:
        # yield_on_timeout: an empty set every rust_timeout ms with no change; the first one says the watch is armed.
        for changes in watch(
            *self._paths(), stop_event=self.stop_event, debounce=200, step=20, rust_timeout=100, yield_on_timeout=True
        ):
            self.armed.set()
            # Deletions count too (a removed requirements.txt), but not an editor's swap and backup files.
            changed = {Path(path) for _, path in changes if not is_scratch(Path(path))}
            if not changed:
                continue
            app = self.app()
            if changed & {app.path, *app.template_files}:  # a nested template or an OpenAPI file too
                self.on_template()
                return  # the template may name new directories: watch again from the new list
            functions = affected_functions(self.app(), changed)
            if functions:
                self.on_functions(functions)


def is_scratch(path: Path) -> bool:
    return "__pycache__" in path.parts or path.name.startswith(".") or path.name.endswith(("~", ".swp", ".tmp"))

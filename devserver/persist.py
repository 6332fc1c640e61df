"""`--persist DIR`: what got a 2xx survives a crash. A group commit: the answer to a write request waits until a
snapshot that began after the function answered is on disk; writes arriving meanwhile share the next snapshot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# The methods whose 2xx acknowledges a write. GET and HEAD write too (rate-limit counters), but nothing a client
# was promised: a counter lost in a crash only resets a window, so reads never wait for the disk.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class GroupCommit:
    """`await commit()` returns once `save` has run to completion, having started after the call: whatever was
    written before the call is in the file then. One `save` runs at a time; callers that arrive while one runs
    share the next. `save` blocks (boto3, fsync), so it runs in a thread, never on the event loop."""

    def __init__(self, save: Callable[[], None]) -> None:
        self.save = save
        self.started = 0  # saves begun
        self.finished = 0  # saves ended, well or not
        self.wanted = 0  # the highest save number a caller waits for
        self.failures: dict[int, BaseException] = {}
        self.task: asyncio.Task[None] | None = None
        self.done = asyncio.Condition()

    async def commit(self) -> None:
        """Raises what `save` raised if the save this call waited for failed (the write is then not durable)."""
        needed = self.started + 1  # a save begun after now: the one running may have read the data before the write
        self.wanted = max(self.wanted, needed)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        async with self.done:
            await self.done.wait_for(lambda: self.finished >= needed)
        # Later saves succeeding make a failed one good again: each writes the whole data.
        for number in range(needed, self.finished + 1):
            if number not in self.failures:
                return
        raise self.failures[needed]

    async def _run(self) -> None:
        while self.finished < self.wanted:
            self.started += 1
            number = self.started
            try:
                await asyncio.to_thread(self.save)
            except Exception as error:
                self.failures[number] = error
            self.failures = {key: value for key, value in self.failures.items() if key >= number - 1000}
            async with self.done:
                self.finished = number
                self.done.notify_all()

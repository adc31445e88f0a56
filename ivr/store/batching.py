"""`BatchLoop`: the writer task behind the engine's batched writes (call memory, call records).

Every call writes a little, often; at a peak that is hundreds of small transactions a second,
which SQLite (one writer) serialises and which cost each call several driver round trips. So a
writer keeps what the calls hand it and a `BatchLoop` commits it every `interval_s` in ONE
transaction, whatever the number of calls. The owner keeps its own pending data and supplies
`write_batch()`: it takes everything pending (before its first await: what arrives later belongs
to the next batch), writes it, and on failure puts it back (newer data wins) and returns False;
the loop then tries again after `retry_s`. `stored()` waits until what was handed over so far is
committed; `aclose()` writes what is left, so a normal stop loses nothing and a SIGKILL loses at
most the last interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# on stop, how long the last batch may take
CLOSE_TIMEOUT_S = 5.0


class BatchLoop:
    def __init__(
        self,
        name: str,
        write_batch: Callable[[], Awaitable[bool]],
        has_pending: Callable[[], bool],
        *,
        interval_s: float,
        retry_s: float,
    ) -> None:
        self.name = name
        self._write_batch = write_batch
        self._has_pending = has_pending
        self.interval_s = interval_s
        self.retry_s = retry_s
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._closing = False
        # a batch is being written: what it holds is not committed yet
        self._writing = False
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.failed_batches = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    def poke(self) -> None:
        """Something new is pending: write it with the next batch."""
        self._wake.set()

    async def stored(self, timeout_s: float) -> bool:
        """Wait until everything handed over so far is committed, at most `timeout_s`."""
        if not self._has_pending() and not self._writing:
            return True
        done = asyncio.get_running_loop().create_future()
        self._waiters.append(done)
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout_s)
        except TimeoutError:
            return False
        return True

    async def aclose(self) -> None:
        """Write what is still pending (bounded by `CLOSE_TIMEOUT_S`), then stop."""
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.error(
                "%s: not everything was written on stop: the database did not answer", self.name
            )
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not (self._closing and not self._has_pending()):
            await self._wake.wait()
            if not self._closing:
                # gather a batch: whatever the calls hand over meanwhile joins this transaction
                await asyncio.sleep(self.interval_s)
            self._wake.clear()
            if not self._has_pending():
                self._release(self._take_waiters())
                continue
            waiters = self._take_waiters()
            self._writing = True
            try:
                written = await self._write_batch()
            finally:
                self._writing = False
            if written:
                self.batches += 1
                self._release(waiters)
                continue
            self.failed_batches += 1
            self._waiters = waiters + self._waiters
            if self._closing:
                return  # logged by the owner; what is left is lost with this process
            await asyncio.sleep(self.retry_s)
            self._wake.set()
        self._release(self._take_waiters())

    def _take_waiters(self) -> list[asyncio.Future[None]]:
        waiters, self._waiters = self._waiters, []
        return waiters

    @staticmethod
    def _release(waiters: list[asyncio.Future[None]]) -> None:
        for done in waiters:
            if not done.done():
                done.set_result(None)

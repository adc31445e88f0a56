"""The batch loop behind the call memory and the call records: one write for many hand-overs,
waits that end only once the data is committed, retries that lose nothing."""

from __future__ import annotations

import asyncio

import pytest

from ivr.store.batching import BatchLoop

pytestmark = [pytest.mark.unit, pytest.mark.looptime]


class Owner:
    """Keeps what it is handed; its writes can be held open or made to fail."""

    def __init__(self) -> None:
        self.pending: list[int] = []
        self.written: list[list[int]] = []
        self.taken = asyncio.Event()
        self.release = asyncio.Event()
        self.release.set()
        self.failures = 0
        self.loop = BatchLoop(
            "test", self.write, lambda: bool(self.pending), interval_s=0.05, retry_s=1.0
        )

    def hand(self, item: int) -> None:
        self.pending.append(item)
        self.loop.poke()

    async def write(self) -> bool:
        batch, self.pending = self.pending, []
        self.taken.set()
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            self.pending = batch + self.pending
            return False
        self.written.append(batch)
        return True


async def test_many_hand_overs_are_one_write() -> None:
    owner = Owner()
    owner.loop.start()
    for n in range(50):
        owner.hand(n)
    assert await owner.loop.stored(5)
    assert owner.written == [list(range(50))]
    await owner.loop.aclose()


async def test_a_wait_begun_while_a_batch_is_written_ends_only_when_it_is_committed() -> None:
    owner = Owner()
    owner.release.clear()
    owner.loop.start()
    owner.hand(1)
    await owner.taken.wait()  # the batch is taken and being written
    waiting = asyncio.create_task(owner.loop.stored(5))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    owner.release.set()
    assert await waiting
    assert owner.written == [[1]]
    await owner.loop.aclose()


async def test_a_failed_write_is_tried_again_and_a_stop_writes_what_is_left() -> None:
    owner = Owner()
    owner.failures = 2
    owner.loop.start()
    owner.hand(1)
    owner.hand(2)
    assert await owner.loop.stored(10)  # after two retries, 1 s apart (virtual time)
    assert owner.loop.failed_batches == 2
    owner.hand(3)
    await owner.loop.aclose()
    assert owner.written == [[1, 2], [3]]

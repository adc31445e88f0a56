"""`CallMemory`: what a call must remember across an engine restart — its flow state, its queue
place, its conversation — kept OFF the Asterisk channel.

Why not channel variables: Asterisk 22 applies `POST /channels/{id}/variable` on the channel's own
thread, only once the prompt playing there ends. Under a call storm those held requests filled the
ARI client's connection pool and every other request (answer, play) timed out behind them, so the
engine apologised and hung up on callers Asterisk could have served (issue "Call storm").

`ivr.store.call_memory.DbCallMemory` keeps it in the database (batched writes); `InMemoryCallMemory`
is its twin for unit tests and for an engine without a database (nothing survives its restart).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class CallMemory(Protocol):
    def keep(self, call_id: str, key: str, value: str) -> None:
        """Remember `value`; returns at once (written in the background, newest value wins)."""

    async def keep_durably(self, call_id: str, key: str, value: str) -> None:
        """Remember `value` and wait until it is stored (bounded by the store's own timeout)."""

    async def flush(self) -> None:
        """Wait until everything kept so far is stored (the engine stopping: the next one reads
        it)."""

    async def recall(self, call_id: str, key: str) -> str:
        """What was kept under `key` for the call ("" if nothing)."""

    def forget(self, call_id: str) -> None:
        """The call is over: drop everything kept for it."""

    async def forget_all_but(self, call_ids: Iterable[str]) -> int:
        """Drop what is kept for calls not among `call_ids` (calls that ended while no engine
        ran); returns how many calls were dropped."""


class InMemoryCallMemory:
    def __init__(self) -> None:
        self.kept: dict[str, dict[str, str]] = {}

    def keep(self, call_id: str, key: str, value: str) -> None:
        self.kept.setdefault(call_id, {})[key] = value

    async def keep_durably(self, call_id: str, key: str, value: str) -> None:
        self.keep(call_id, key, value)

    async def flush(self) -> None:
        return None

    async def recall(self, call_id: str, key: str) -> str:
        return self.kept.get(call_id, {}).get(key, "")

    def forget(self, call_id: str) -> None:
        self.kept.pop(call_id, None)

    async def forget_all_but(self, call_ids: Iterable[str]) -> int:
        present = set(call_ids)
        gone = [c for c in self.kept if c not in present]
        for call_id in gone:
            del self.kept[call_id]
        return len(gone)


def _conforms(memory: InMemoryCallMemory) -> CallMemory:
    # mypy checks here that the twin keeps the port's shape
    return memory

"""Call records: one per call session, written even when the session is cancelled.

A `CallRecorder` is the port; `JsonlCallRecorder` appends one JSON object per line to a file
(the embedded default until the database store takes over) and `MemoryCallRecorder` keeps them
for tests. Records are data, not logs: they may hold the caller's number; logs never do."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass
class CallRecord:
    call_id: str
    caller: str
    entry: str
    started_at: str
    ended_at: str = ""
    # answered | completed | caller_hung_up | no_input | detached | failed
    outcome: str = ""
    digits: list[str] = field(default_factory=list)
    prompts_played: list[str] = field(default_factory=list)
    # media that Asterisk reported as played to the end (PlaybackFinished, state done)
    prompts_finished: list[str] = field(default_factory=list)
    # the media URIs Asterisk reported in those PlaybackFinished events
    media_finished: list[str] = field(default_factory=list)
    adopted: bool = False
    language: str = "ja"
    # the flow's append-only trail: entered, menu_choice, intake_created, enqueued, ...
    trail: list[dict[str, str]] = field(default_factory=list)
    # intakes created during the call as "kind:confirmation"
    intakes: list[str] = field(default_factory=list)


class CallRecorder(Protocol):
    async def write(self, record: CallRecord) -> None: ...


class MemoryCallRecorder:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        self.written = asyncio.Condition()

    async def write(self, record: CallRecord) -> None:
        async with self.written:
            self.records.append(record)
            self.written.notify_all()

    async def wait_for(self, call_id: str, outcome: str | None = None) -> CallRecord:
        """The first record of `call_id` (with `outcome`, if given) — waits until written."""

        def found() -> CallRecord | None:
            for r in self.records:
                if r.call_id == call_id and (outcome is None or r.outcome == outcome):
                    return r
            return None

        async with self.written:
            await self.written.wait_for(lambda: found() is not None)
        rec = found()
        if rec is None:  # pragma: no cover - wait_for returned because found() was not None
            raise LookupError(call_id)
        return rec


class JsonlCallRecorder:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def write(self, record: CallRecord) -> None:
        line = json.dumps(asdict(record), ensure_ascii=False) + "\n"
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)

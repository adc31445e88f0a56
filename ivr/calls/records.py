"""Call records: the call's trail as it happens, and one record per call session at its end.

A `CallRecorder` is the port. The session hands it the trail while the call goes on (`opened`,
`event`, `matched`: never waiting, each with its own time) and the whole `CallRecord` when the
session ends (`write`, awaited, even when the session is cancelled). The database recorder
(`ivr.adapters.DbCallRecorder`) writes the trail as it comes; `JsonlCallRecorder` appends one
JSON object per record to a file, its trail entries stamped with their times; and
`MemoryCallRecorder` keeps both for tests. Records are data, not logs: they may hold the
caller's number; logs never do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
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
    # the flow's append-only trail: entered, menu_choice, intake_created, to_queue, ...
    trail: list[dict[str, str]] = field(default_factory=list)
    # when each trail entry happened (ISO 8601, UTC), entry by entry
    trail_at: list[str] = field(default_factory=list)
    # intakes created during the call as "kind:confirmation"
    intakes: list[str] = field(default_factory=list)
    # the customer number the caller was recognised as ("" if not recognised)
    account: str = ""


class CallRecorder(Protocol):
    def opened(self, call_id: str, caller: str, at: datetime) -> None:
        """A session began (`caller` as Asterisk reported it)."""

    def event(self, call_id: str, kind: str, at: datetime, data: Mapping[str, str]) -> None:
        """One trail entry, as it happens: `data` holds ids and outcomes, never keyed values."""

    def matched(self, call_id: str, customer_number: str, by: str, at: datetime) -> None:
        """The caller was recognised as this account's holder, `by` caller ID or keyed number."""

    async def write(self, record: CallRecord) -> None:
        """The session ended (or detached): its record, once stored."""


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    call_id: str
    kind: str
    at: datetime
    data: Mapping[str, str]


class MemoryCallRecorder:
    def __init__(self) -> None:
        self.records: list[CallRecord] = []
        # the trail as handed over while calls went on (opened and matched included)
        self.events: list[RecordedEvent] = []
        self.written = asyncio.Condition()

    def opened(self, call_id: str, caller: str, at: datetime) -> None:
        self.events.append(RecordedEvent(call_id, "opened", at, {}))

    def event(self, call_id: str, kind: str, at: datetime, data: Mapping[str, str]) -> None:
        self.events.append(RecordedEvent(call_id, kind, at, dict(data)))

    def matched(self, call_id: str, customer_number: str, by: str, at: datetime) -> None:
        self.events.append(RecordedEvent(call_id, "account_matched", at, {"by": by}))

    def trail_of(self, call_id: str) -> list[RecordedEvent]:
        return [e for e in self.events if e.call_id == call_id]

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
    """The file keeps whole records: the trail reaches it, with its times, when the call ends."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def opened(self, call_id: str, caller: str, at: datetime) -> None:
        return None

    def event(self, call_id: str, kind: str, at: datetime, data: Mapping[str, str]) -> None:
        return None

    def matched(self, call_id: str, customer_number: str, by: str, at: datetime) -> None:
        return None

    async def write(self, record: CallRecord) -> None:
        line = json.dumps(asdict(record), ensure_ascii=False) + "\n"
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)

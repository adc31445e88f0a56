"""The append-only contact trail: one `calls` row per call, `call_events` appended as it goes.

Reports are computed from these rows, so nothing here updates or deletes an event; the call row
itself only gets its end time, account and reason code filled in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import CallerId
from ivr.store.tables import call_events, calls

if TYPE_CHECKING:
    from ivr.store.lookup_path import LookupPath


@dataclass(frozen=True, slots=True)
class CallEvent:
    id: int
    call_id: str
    at: datetime
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SessionTrail:
    """What one call session adds to the trail when it ends (or detaches: `ended_at` None)."""

    call_id: str
    caller: CallerId
    started_at: datetime
    ended_at: datetime | None
    reason_code: str | None
    events: tuple[tuple[str, Mapping[str, Any]], ...]
    at: datetime


class CallLog:
    def __init__(self, engine: AsyncEngine, *, writes: LookupPath | None = None) -> None:
        self._engine = engine
        # where `save_many` writes (the call recorder's batches): the look-up path's one
        # transaction, on SQLite one hop for the whole batch (see `DbCallMemory`), or `engine`
        self._writes = writes

    async def start(self, call_id: str, caller: CallerId, at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.insert(calls).values(
                    id=call_id, caller_e164=caller.e164, caller_kind=str(caller.kind), started_at=at
                )
            )
            await conn.execute(
                sa.insert(call_events).values(call_id=call_id, at=at, kind="entered_ivr", data={})
            )

    async def append(
        self, call_id: str, kind: str, at: datetime, data: Mapping[str, Any] | None = None
    ) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.insert(call_events).values(
                    call_id=call_id, at=at, kind=kind, data=dict(data or {})
                )
            )

    async def finish(
        self,
        call_id: str,
        at: datetime,
        *,
        account_id: int | None = None,
        reason_code: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"ended_at": at}
        if account_id is not None:
            values["account_id"] = account_id
        if reason_code is not None:
            values["reason_code"] = reason_code
        async with self._engine.begin() as conn:
            await conn.execute(sa.update(calls).where(calls.c.id == call_id).values(**values))
            await conn.execute(
                sa.insert(call_events).values(call_id=call_id, at=at, kind="ended", data={})
            )

    async def save(
        self,
        call_id: str,
        caller: CallerId,
        started_at: datetime,
        ended_at: datetime | None,
        *,
        reason_code: str | None,
        events: Sequence[tuple[str, Mapping[str, Any]]],
        at: datetime,
    ) -> None:
        """A whole session at once: the call row (created, or continued when an earlier engine
        wrote it before this one re-adopted the call) and its `events`, stamped `at`.
        `ended_at` None means the call goes on (the engine detached from it)."""
        await self.save_many(
            [SessionTrail(call_id, caller, started_at, ended_at, reason_code, tuple(events), at)]
        )

    async def save_many(self, sessions: Sequence[SessionTrail]) -> None:
        """Several sessions in ONE transaction (a handful of statements however many)."""
        if not sessions:
            return
        if self._writes is not None:
            await self._writes.run(_save_sessions, sessions)
        else:
            async with self._engine.begin() as conn:
                await conn.run_sync(_save_sessions, sessions)

    async def events(self, call_id: str) -> list[CallEvent]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(call_events)
                    .where(call_events.c.call_id == call_id)
                    .order_by(call_events.c.id)
                )
            ).mappings()
            return [CallEvent(**dict(r)) for r in rows]


def _save_sessions(conn: sa.Connection, sessions: Sequence[SessionTrail]) -> None:
    """`CallLog.save_many` in the caller's transaction."""
    ids = sorted({s.call_id for s in sessions})
    known = set((conn.execute(sa.select(calls.c.id).where(calls.c.id.in_(ids)))).scalars())
    new: dict[str, SessionTrail] = {}
    for session in sessions:
        if session.call_id not in known:
            new.setdefault(session.call_id, session)
    rows: list[dict[str, Any]] = []
    if new:
        conn.execute(
            sa.insert(calls),
            [
                {
                    "id": s.call_id,
                    "caller_e164": s.caller.e164,
                    "caller_kind": str(s.caller.kind),
                    "started_at": s.started_at,
                }
                for s in new.values()
            ],
        )
        rows.extend(
            {"call_id": s.call_id, "at": s.started_at, "kind": "entered_ivr", "data": {}}
            for s in new.values()
        )
    for s in sessions:
        rows.extend(
            {"call_id": s.call_id, "at": s.at, "kind": kind[:32], "data": dict(data)}
            for kind, data in s.events
        )
        if s.ended_at is None:
            rows.append({"call_id": s.call_id, "at": s.at, "kind": "detached", "data": {}})
        else:
            rows.append({"call_id": s.call_id, "at": s.ended_at, "kind": "ended", "data": {}})
    conn.execute(sa.insert(call_events), rows)
    conn.execute(
        sa.update(calls)
        .where(calls.c.id == sa.bindparam("call_id"))
        .values(
            ended_at=sa.bindparam("ended"),
            # a session without an outcome keeps what an earlier engine wrote
            reason_code=sa.func.coalesce(sa.bindparam("reason"), calls.c.reason_code),
        ),
        [
            {
                "call_id": s.call_id,
                "ended": s.ended_at,
                "reason": s.reason_code[:32] if s.reason_code is not None else None,
            }
            for s in sessions
        ],
    )

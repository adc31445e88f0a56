"""The append-only contact trail: one `calls` row per call, `call_events` appended as it goes.

Reports are computed from these rows, so nothing here updates or deletes an event; the call row
itself only gets its end time, account and reason code filled in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import CallerId
from ivr.store.tables import call_events, calls


@dataclass(frozen=True, slots=True)
class CallEvent:
    id: int
    call_id: str
    at: datetime
    kind: str
    data: Mapping[str, Any]


class CallLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
        """A whole session at once, in one transaction: the call row (created, or continued when
        an earlier engine wrote it before this one re-adopted the call) and its `events`, stamped
        `at`. `ended_at` None means the call goes on (the engine detached from it)."""
        async with self._engine.begin() as conn:
            known = (
                await conn.execute(sa.select(calls.c.id).where(calls.c.id == call_id))
            ).scalar_one_or_none()
            if known is None:
                await conn.execute(
                    sa.insert(calls).values(
                        id=call_id,
                        caller_e164=caller.e164,
                        caller_kind=str(caller.kind),
                        started_at=started_at,
                    )
                )
                await conn.execute(
                    sa.insert(call_events).values(
                        call_id=call_id, at=started_at, kind="entered_ivr", data={}
                    )
                )
            rows = [
                {"call_id": call_id, "at": at, "kind": kind[:32], "data": dict(data)}
                for kind, data in events
            ]
            if ended_at is None:
                rows.append({"call_id": call_id, "at": at, "kind": "detached", "data": {}})
            else:
                rows.append({"call_id": call_id, "at": ended_at, "kind": "ended", "data": {}})
            await conn.execute(sa.insert(call_events), rows)
            values: dict[str, Any] = {"ended_at": ended_at}
            if reason_code is not None:
                values["reason_code"] = reason_code[:32]
            await conn.execute(sa.update(calls).where(calls.c.id == call_id).values(**values))

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

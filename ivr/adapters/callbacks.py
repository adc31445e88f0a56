"""`DbCallbackStore`: the queues' `CallbackStore` port on the database, so a caller who hung up
to be called back keeps the queue place across an engine restart."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.tables import callback_requests
from routing.queues import CallbackRequest


class DbCallbackStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def keep(self, request: CallbackRequest) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.insert(callback_requests).values(
                    call_id=request.call_id,
                    queue=request.queue,
                    number=request.number,
                    priority=request.priority,
                    enqueued_at=request.enqueued_at,
                    language=request.language,
                    context=dict(request.context),
                    state="pending",
                    updated_at=datetime.now(UTC),
                )
            )

    async def settle(self, call_id: str, state: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(callback_requests)
                .where(callback_requests.c.call_id == call_id)
                .values(state=state, updated_at=datetime.now(UTC))
            )

    async def pending(self) -> list[CallbackRequest]:
        return await self._in_state("pending")

    async def dialing(self) -> list[CallbackRequest]:
        return await self._in_state("dialing")

    async def _in_state(self, state: str) -> list[CallbackRequest]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(callback_requests)
                .where(callback_requests.c.state == state)
                .order_by(callback_requests.c.enqueued_at)
            )
            return [
                CallbackRequest(
                    call_id=r.call_id,
                    queue=r.queue,
                    number=r.number,
                    priority=r.priority,
                    enqueued_at=r.enqueued_at,
                    language=r.language,
                    context=dict(r.context),
                )
                for r in rows
            ]

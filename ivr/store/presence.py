"""Agent presence and the agent trail in the database (SQLite and PostgreSQL).

`agent_presence` has one row per agent: the availability they chose (ready, paused with a
reason, logged out), since when, and the phone endpoint they took calls on; it is what an engine
restores at start. `agent_events` is the append-only agent trail, every state change (an offer,
an answer, a wrap-up too) with its own time: the wallboard and the reports read it.
`PresenceStore.append` writes a batch of trail entries and the newest presence of each agent
in them in ONE transaction, so the trail and the presence never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.store.tables import agent_events, agent_presence


@dataclass(frozen=True, slots=True)
class Presence:
    """An agent's chosen availability: `status` is ready, paused or logged_out."""

    login: str
    status: str
    since: datetime
    reason: str | None = None
    endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class AgentEntry:
    """One entry of the agent trail; when written, with the presence it leaves the agent in."""

    login: str
    at: datetime
    event: str
    before: str
    status: str
    reason: str | None = None
    call_id: str | None = None
    presence: Presence | None = None


class PresenceStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load(self) -> dict[str, Presence]:
        """Every agent's last presence, by log-in id."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(agent_presence))
            return {
                r.login: Presence(r.login, r.status, r.since, r.reason, r.endpoint) for r in rows
            }

    async def append(self, entries: Sequence[AgentEntry], now: datetime) -> None:
        """The entries into the trail and each agent's newest presence, one transaction."""
        if not entries:
            return
        newest = {e.login: e.presence for e in entries if e.presence is not None}
        async with self.engine.begin() as conn:
            await conn.execute(sa.insert(agent_events), [_event_row(e) for e in entries])
            for presence in newest.values():
                await _upsert(conn, presence, now)

    async def events(
        self, login: str | None = None, since: datetime | None = None
    ) -> list[AgentEntry]:
        """The trail, oldest first (of one agent, after a time)."""
        query = sa.select(agent_events)
        if login is not None:
            query = query.where(agent_events.c.login == login)
        if since is not None:
            query = query.where(agent_events.c.at > since)
        async with self.engine.connect() as conn:
            rows = await conn.execute(query.order_by(agent_events.c.id))
            return [
                AgentEntry(r.login, r.at, r.event, r.before, r.status, r.reason, r.call_id)
                for r in rows
            ]


def _event_row(e: AgentEntry) -> dict[str, Any]:
    return {
        "login": e.login,
        "at": e.at,
        "event": e.event,
        "before": e.before,
        "status": e.status,
        "reason": e.reason,
        "call_id": e.call_id,
    }


async def _upsert(conn: AsyncConnection, p: Presence, now: datetime) -> None:
    values = {
        "login": p.login,
        "status": p.status,
        "reason": p.reason,
        "since": p.since,
        "endpoint": p.endpoint,
        "updated_at": now,
    }
    changed = {k: v for k, v in values.items() if k != "login"}
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
        agent_presence
    )
    await conn.execute(
        insert.values(values).on_conflict_do_update(index_elements=["login"], set_=changed)
    )

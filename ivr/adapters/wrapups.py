"""After-call work across an engine restart: an agent who was in wrap-up when the engine stopped
is in it again when it starts, for the call they were classifying and until the deadline they
had (the queue's `wrap_up_s` from the moment the call ended), so the reason form is still theirs
and no call is offered to them before it ends.

What survives is the database's: the agent trail's last entry (`agent_events`: status
``wrap_up`` with the call) and the call's trail (`call_events`: the ``call_ended`` entry naming
the agent and the queue). A wrap-up whose deadline passed while the engine was down is over: the
agent is back in the presence they chose (the call stays unclassified until they give a code
the reports count as theirs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.tables import agent_events, call_events
from routing.agents import AgentPool
from routing.wrapup import OpenWrapUp, WrapUps

log = logging.getLogger(__name__)


async def open_wrap_ups(
    db: AsyncEngine, pool: AgentPool, now: datetime, wrap_up_s: Callable[[str], float]
) -> dict[str, OpenWrapUp]:
    """The wrap-ups still running at `now` of the pool's ready agents, by login."""
    found: dict[str, OpenWrapUp] = {}
    async with db.connect() as conn:
        for login in pool.ids():
            if pool.state(login).status != "ready" or pool.pending(login) is not None:
                continue
            last = (
                await conn.execute(
                    sa.select(agent_events.c.status, agent_events.c.at, agent_events.c.call_id)
                    .where(agent_events.c.login == login)
                    .order_by(agent_events.c.id.desc())
                    .limit(1)
                )
            ).first()
            if last is None or last.status != "wrap_up" or last.call_id is None:
                continue
            ended = await conn.execute(
                sa.select(call_events.c.data)
                .where(call_events.c.call_id == last.call_id, call_events.c.kind == "call_ended")
                .order_by(call_events.c.id.desc())
            )
            queue = next(
                (str(d["queue"]) for (d,) in ended if d.get("agent") == login and d.get("queue")),
                None,
            )
            if queue is None:
                continue
            until = last.at + timedelta(seconds=wrap_up_s(queue))
            if until > now:
                found[login] = OpenWrapUp(last.call_id, queue, last.at, until)
    return found


async def resume_wrap_ups(
    db: AsyncEngine,
    pool: AgentPool,
    wrap_ups: WrapUps,
    now: datetime,
    wrap_up_s: Callable[[str], float],
) -> dict[str, OpenWrapUp]:
    """Put every agent whose wrap-up outlived the restart back in it; the ones resumed."""
    resumed = await open_wrap_ups(db, pool, now, wrap_up_s)
    for login, wrap_up in resumed.items():
        wrap_ups.resume(login, wrap_up)
    if resumed:
        log.info("%d agent(s) back in their wrap-up from before the restart", len(resumed))
    return resumed

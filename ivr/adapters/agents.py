"""The agent pool on the database: agents are the staff who take calls, their presence (ready,
paused, logged out) survives an engine restart, and every change reaches the agent trail.

`open_agent_pool(db)` builds the `routing.agents.AgentPool` from the `staff` table (`takes_calls`:
agents and supervisors with a phone endpoint, not disabled), puts every agent back in the
presence stored for them, and writes each change from then on through `DbAgentTrail`: the
changes handed over within `interval_s` are one transaction with each agent's newest presence
(`ivr.store.presence`). The console adds an agent who signs in after the start
(`refresh_agent`), so a new member of staff needs no restart.

config.yaml's `routing.agents` is only the demo seed: an agent marked `ready_at_start` who has
no stored presence yet (a fresh demo database) is put ready at start, as if they had signed in
and pressed Ready. Every other agent is ready only after choosing so in the console.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import utc_now
from ivr.store.batching import BatchLoop
from ivr.store.presence import AgentEntry, Presence, PresenceStore
from ivr.store.staff import Role, StaffMember, StaffStore
from routing.agents import PRESENCE_STATUSES, AgentChange, AgentPool, AgentProfile, Clock
from routing.config import AgentConfig
from routing.policy import AgentState

log = logging.getLogger(__name__)

TRAIL_BATCH_S = 0.1
TRAIL_RETRY_S = 1.0
# how long the console's state change waits for its write before answering anyway
TRAIL_WAIT_S = 5.0

CALL_TAKING_ROLES = frozenset({Role.AGENT, Role.SUPERVISOR})
"""Supervisors who have a phone endpoint take calls too (a small floor's supervisor does);
admins never do."""


def takes_calls(member: StaffMember) -> bool:
    return not member.disabled and member.role in CALL_TAKING_ROLES and bool(member.endpoint)


def agent_profile(member: StaffMember) -> AgentProfile:
    return AgentProfile(member.endpoint or "", member.skills)


def agent_profiles(members: Iterable[StaffMember]) -> dict[str, AgentProfile]:
    """The pool's agents by log-in id: the staff who take calls."""
    return {m.login: agent_profile(m) for m in members if takes_calls(m)}


def entry_of(change: AgentChange) -> AgentEntry:
    state = change.state
    presence = change.presence or state
    reason = state.reason
    if reason is None and change.event.endswith("Requested"):
        reason = presence.reason  # a pause asked for during the call
    stored = None
    if presence.status in PRESENCE_STATUSES:
        stored = Presence(
            change.agent_id, presence.status, presence.since, presence.reason, change.endpoint
        )
    return AgentEntry(
        change.agent_id,
        change.at,
        change.event,
        change.before,
        state.status,
        reason,
        state.call_id,
        stored,
    )


class DbAgentTrail:
    """The pool's `on_event`: every change into `agent_events` and `agent_presence`, batched."""

    def __init__(
        self, store: PresenceStore, *, clock: Clock = utc_now, interval_s: float = TRAIL_BATCH_S
    ) -> None:
        self._store = store
        self._clock = clock
        self._pending: list[AgentEntry] = []
        self._loop = BatchLoop(
            "agent-trail",
            self._write_batch,
            lambda: bool(self._pending),
            interval_s=interval_s,
            retry_s=TRAIL_RETRY_S,
        )

    def __call__(self, change: AgentChange) -> None:
        self._pending.append(entry_of(change))
        self._loop.start()
        self._loop.poke()

    def start(self) -> None:
        self._loop.start()

    async def flush(self) -> bool:
        """Wait until every change handed over so far is committed (False: not in time)."""
        return await self._loop.stored(TRAIL_WAIT_S)

    async def aclose(self) -> None:
        await self._loop.aclose()

    async def _write_batch(self) -> bool:
        batch, self._pending = self._pending, []
        try:
            await self._store.append(batch, self._clock())
        except IntegrityError:
            # an agent who is not in the staff table: retrying cannot help, the rest must go on
            log.error("agent trail: %d change(s) refused by the database, dropped", len(batch))
            return True
        except (SQLAlchemyError, OSError) as exc:
            log.warning("agent trail not written (%s); retrying", type(exc).__name__)
            self._pending = batch + self._pending
            return False
        return True


def restore_presence(pool: AgentPool, stored: Mapping[str, Presence]) -> int:
    """Put every agent of the pool back in their stored presence; how many were ready or
    paused."""
    back = 0
    for login, presence in stored.items():
        if login not in pool or pool.state(login).status != "logged_out":
            continue
        if presence.status not in PRESENCE_STATUSES:
            continue  # the table's check constraint forbids it
        pool.restore(login, AgentState(presence.status, presence.since, presence.reason))
        back += presence.status != "logged_out"
    return back


def seed_demo_ready(
    pool: AgentPool, seed: Mapping[str, AgentConfig], stored: Mapping[str, Presence]
) -> list[str]:
    """The demo seed: agents marked `ready_at_start` who never had a presence go ready."""
    ready = [
        name
        for name, agent in seed.items()
        if agent.ready_at_start and name in pool and name not in stored
    ]
    for name in ready:
        pool.log_in(name)
    return ready


async def open_agent_pool(
    db: AsyncEngine,
    *,
    clock: Clock = utc_now,
    seed: Mapping[str, AgentConfig] | None = None,
    trail: DbAgentTrail | None = None,
) -> tuple[AgentPool, DbAgentTrail]:
    """The pool of the staff who take calls, restored to their stored presence, writing its
    changes through `trail` (default: a new `DbAgentTrail`, started; the caller closes it with
    `aclose` after the pool's last change, before the database goes)."""
    members = await StaffStore(db).all()
    store = PresenceStore(db)
    stored = await store.load()
    pool = AgentPool(agent_profiles(members), clock=clock)
    restored = restore_presence(pool, stored)
    trail = trail or DbAgentTrail(store, clock=clock)
    trail.start()
    pool.on_event = trail
    seeded = seed_demo_ready(pool, seed or {}, stored)
    log.info(
        "agent pool: %d agent(s), %d back ready or paused, %d demo agent(s) ready",
        len(pool.ids()),
        restored,
        len(seeded),
    )
    return pool, trail


def refresh_agent(pool: AgentPool, member: StaffMember) -> bool:
    """A member signing in (or changed): into the pool with their endpoint and skills when they
    take calls, else out of it. True when they are in the pool afterwards."""
    if takes_calls(member):
        pool.upsert(member.login, agent_profile(member))
        return True
    if member.login in pool:
        pool.remove(member.login)
    return False

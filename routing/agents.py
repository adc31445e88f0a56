"""The agent pool: every agent's live state, driven only through `routing.policy.transition`.

The ACD (`routing.queues`), the agent console and the wrap-up timers all change agents through
`AgentPool.apply`, which checks the move against the policy state machine, records it in the
append-only trail (`on_event`) and wakes whoever waits for a free agent. Wrap-up ends by itself
after the queue's `wrap_up_s` (a loop timer, no task). `snapshot()` is what a wallboard shows.

Who the agents are comes from outside: the staff table in `hotline run` (`ivr.adapters.agents`
builds the pool and adds an agent who signs in later, `upsert`), config.yaml's `routing.agents`
in tests and the demo seed. The queues read `state()` / `agents()` on every decision: there is
no cached list of ready agents, so a pause or a log-out counts for the very next offer.

Presence: besides the live state, every agent has the availability they chose — ready, paused
(with a reason) or logged out — which is what survives an engine restart (`restore`; the live
offered / on-call / wrap-up states are re-derived from the calls). The console asks through
`request_ready`, `request_pause` and `request_log_out`, which work in every state: while the
agent's phone rings or they are on a call, a pause or log-out is kept as `pending` and applied
the moment the call is over (the agent is never put back to ready after asking for a break);
the offer that is ringing goes on, the agent may still answer it or let it ring out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ivr.domain import utc_now
from routing.policy import (
    Agent,
    AgentEvent,
    AgentState,
    AgentStatus,
    Answer,
    CallEnded,
    LogIn,
    LogOut,
    NoAnswer,
    Offer,
    OfferWithdrawn,
    Pause,
    Resume,
    WrapUpDone,
    select_agent,
    staffing,
    transition,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

PRESENCE_STATUSES: frozenset[AgentStatus] = frozenset({"ready", "paused", "logged_out"})
"""The states an agent chooses and that survive a restart; the others belong to a call."""

BUSY_STATUSES: frozenset[AgentStatus] = frozenset({"offered", "on_call"})
"""While these last a pause or a log-out waits for the call (`pending`)."""


class AgentSpec(Protocol):
    """Who an agent is for the ACD: the phone it rings and the skills queues may require
    (`routing.config.AgentConfig` and `AgentProfile` both are)."""

    @property
    def endpoint(self) -> str: ...

    @property
    def skills(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent as the staff table has them: the endpoint (`PJSIP/agent1`) and skills."""

    endpoint: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentChange:
    """One entry of the agent event trail: `event` (a policy event's class name, e.g. `NoAnswer`,
    or a console request: `PauseRequested`, `LogOutRequested`, `ReadyRequested`) moved
    `agent_id` from `before` to `state` at `at`. `presence` is the availability the agent is in
    or returns to after the call (ready / paused / logged out: what a restart restores);
    `endpoint` the phone the agent takes calls on."""

    agent_id: str
    at: datetime
    event: str
    before: AgentStatus
    state: AgentState
    presence: AgentState | None = None
    endpoint: str = ""


@dataclass(frozen=True, slots=True)
class AgentView:
    """A wallboard row; `pending` is a pause or log-out asked for during the call."""

    id: str
    endpoint: str
    skills: tuple[str, ...]
    status: AgentStatus
    since: datetime
    reason: str | None
    call_id: str | None
    pending: AgentState | None = None


def unserved_queues(
    queues: Mapping[str, Collection[str]], pool: AgentPool
) -> dict[str, tuple[str, ...]]:
    """The queues (name -> the skills each requires) that no agent of `pool` could ever be
    offered a call of: a skill misspelt in config.yaml, or given to nobody in the console. Their
    callers can only wait out `max_wait_s` or overflow. Sorted by queue name."""
    return {
        name: tuple(sorted(skills))
        for name, skills in sorted(queues.items())
        if not pool.agents(skills)
    }


class UnknownAgent(KeyError):
    """No agent with that id is in the pool."""


class AgentPool:
    def __init__(
        self,
        agents: Mapping[str, AgentSpec],
        *,
        clock: Clock = utc_now,
        on_event: Callable[[AgentChange], None] | None = None,
    ) -> None:
        self._config: dict[str, AgentProfile] = {
            agent_id: AgentProfile(spec.endpoint, tuple(spec.skills))
            for agent_id, spec in agents.items()
        }
        self._clock = clock
        self.on_event = on_event
        self._listeners: list[Callable[[AgentChange], None]] = []
        start = clock()
        self._states = {agent_id: AgentState("logged_out", start) for agent_id in self._config}
        self._presence = dict(self._states)
        self._pending: dict[str, AgentState] = {}
        self._wrap_up_timers: dict[str, asyncio.TimerHandle] = {}
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ reading

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._config

    def ids(self) -> list[str]:
        return sorted(self._config)

    def state(self, agent_id: str) -> AgentState:
        try:
            return self._states[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def presence(self, agent_id: str) -> AgentState:
        """The availability the agent chose: ready, paused or logged out (during a call, what
        they return to when it is over)."""
        self.state(agent_id)
        return self._pending.get(agent_id) or self._presence[agent_id]

    def pending(self, agent_id: str) -> AgentState | None:
        """A pause or log-out asked for while the agent's phone rings or they are on a call."""
        self.state(agent_id)
        return self._pending.get(agent_id)

    def endpoint(self, agent_id: str) -> str:
        try:
            return self._config[agent_id].endpoint
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def profile(self, agent_id: str) -> AgentProfile:
        try:
            return self._config[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def agents(self, skills: Collection[str] = ()) -> list[Agent]:
        """Agents (with every skill in `skills`) as the policy functions take them."""
        return [
            Agent(agent_id, frozenset(cfg.skills), self._states[agent_id])
            for agent_id, cfg in self._config.items()
            if set(skills) <= set(cfg.skills)
        ]

    def select(self, skills: Collection[str] = ()) -> str | None:
        """The longest-idle ready agent with every skill, or None."""
        agent = select_agent(self.agents(), skills)
        return agent.id if agent is not None else None

    def staffing(self, skills: Collection[str] = ()) -> tuple[int, int]:
        """(staffed, ready) among agents with `skills`."""
        return staffing(self.agents(), skills)

    def view(self, agent_id: str) -> AgentView:
        cfg = self.profile(agent_id)
        state = self._states[agent_id]
        return AgentView(
            id=agent_id,
            endpoint=cfg.endpoint,
            skills=cfg.skills,
            status=state.status,
            since=state.since,
            reason=state.reason,
            call_id=state.call_id,
            pending=self._pending.get(agent_id),
        )

    def snapshot(self) -> list[AgentView]:
        return [self.view(agent_id) for agent_id in sorted(self._config)]

    async def changed(self, timeout_s: float) -> bool:
        """Wait until any agent changes state (True) or `timeout_s` passes (False)."""
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that
        # arrives as the event is set, and the caller's loop would never stop
        try:
            async with asyncio.timeout(timeout_s):
                await self._changed.wait()
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ who is in the pool

    def upsert(self, agent_id: str, spec: AgentSpec) -> bool:
        """Add an agent (logged out) or give one a new endpoint and skills, keeping their state
        (the next offer rings the new endpoint). True when the agent is new."""
        new = agent_id not in self._config
        self._config[agent_id] = AgentProfile(spec.endpoint, tuple(spec.skills))
        if new:
            state = AgentState("logged_out", self._clock())
            self._states[agent_id] = state
            self._presence[agent_id] = state
        return new

    def remove(self, agent_id: str) -> bool:
        """Take an agent out (disabled staff): logged out first, and only when no call holds
        them — False then, and a log-out is pending; call again after the call."""
        self.request_log_out(agent_id)
        if self._states[agent_id].status != "logged_out":
            return False
        self._cancel_wrap_up(agent_id)
        del self._config[agent_id], self._states[agent_id], self._presence[agent_id]
        self._wake()
        return True

    def restore(self, agent_id: str, presence: AgentState) -> AgentState:
        """Put a logged-out agent back where they were before a restart (ready, paused or
        logged out, with its own `since`, so the longest-idle order holds). Not a change: no
        trail entry. ValueError for a call's state or an agent who has moved already."""
        state = self.state(agent_id)
        if presence.status not in PRESENCE_STATUSES:
            raise ValueError(f"a restart restores ready, paused or logged out, not {presence}")
        if state.status != "logged_out" or agent_id in self._pending:
            raise ValueError(f"agent {agent_id} has moved since the start ({state.status})")
        restored = AgentState(presence.status, presence.since, reason=presence.reason)
        self._states[agent_id] = restored
        self._presence[agent_id] = restored
        self._wake()
        return restored

    def resume_wrap_up(
        self, agent_id: str, call_id: str, since: datetime, remaining_s: float
    ) -> AgentState:
        """Put a ready agent back in the wrap-up of `call_id` they were in before a restart
        (since `since`, ending by itself in `remaining_s`); no call is offered meanwhile. Not a
        change: no trail entry. ValueError unless the agent is ready with nothing pending."""
        state = self.state(agent_id)
        if state.status != "ready" or agent_id in self._pending:
            raise ValueError(f"agent {agent_id} is {state.status}, not ready: no wrap-up resumed")
        resumed = AgentState("wrap_up", since, call_id=call_id)
        self._states[agent_id] = resumed
        loop = asyncio.get_running_loop()
        self._wrap_up_timers[agent_id] = loop.call_later(
            max(0.0, remaining_s), self._wrap_up_elapsed, agent_id, call_id
        )
        self._wake()
        return resumed

    # ------------------------------------------------------------------ changing

    def apply(self, agent_id: str, event: AgentEvent, *, cause: str = "") -> AgentState:
        """Move an agent; raises `policy.InvalidTransition` for a move its state does not allow.
        A pause or log-out pending for the call is applied as soon as the call lets go. `cause`
        names the trail entry instead of the event (why the move was made)."""
        after = self._move(agent_id, event, cause)
        pending = self._pending.get(agent_id)
        if pending is not None and after.status in ("ready", "paused"):
            del self._pending[agent_id]
            after = self._move(agent_id, _event_for(pending))
        return after

    def _move(self, agent_id: str, event: AgentEvent, cause: str = "") -> AgentState:
        before = self.state(agent_id)
        now = self._clock()
        after = transition(before, event, now)
        self._states[agent_id] = after
        if after.status != "wrap_up":
            self._cancel_wrap_up(agent_id)
        if after.status in PRESENCE_STATUSES:
            self._presence[agent_id] = after
        self._emit(AgentChange(agent_id, now, cause or type(event).__name__, before.status, after))
        return after

    def listen(self, listener: Callable[[AgentChange], None]) -> None:
        """Hand every later change to `listener` too, after `on_event` (the trail) has it (the
        console's live feed); it must not block."""
        self._listeners.append(listener)

    def _emit(self, change: AgentChange) -> None:
        full = AgentChange(
            change.agent_id,
            change.at,
            change.event,
            change.before,
            change.state,
            self.presence(change.agent_id),
            self._config[change.agent_id].endpoint,
        )
        if self.on_event is not None:
            self.on_event(full)
        for listener in self._listeners:
            try:
                listener(full)
            except Exception:
                # a page that cannot be told must not stop the agent's change
                log.exception("an agent change listener failed")
        self._wake()

    def _wake(self) -> None:
        # wake every waiter once, then arm the event again for the next change
        self._changed.set()
        self._changed = asyncio.Event()

    def _request(self, agent_id: str, wanted: AgentState | None, event: str) -> AgentState:
        """Keep (or with None drop) what the agent asked for during a call, in the trail."""
        state = self.state(agent_id)
        if wanted is None:
            if self._pending.pop(agent_id, None) is None:
                return state
        else:
            self._pending[agent_id] = wanted
        self._emit(
            AgentChange(
                agent_id, wanted.since if wanted else self._clock(), event, state.status, state
            )
        )
        return state

    # the console's verbs: valid in every state

    def request_ready(self, agent_id: str) -> AgentState:
        """Ready: log in, resume from a pause, end wrap-up early; during a call, forget a
        pending pause or log-out (the agent stays available after the call)."""
        status = self.state(agent_id).status
        if status == "logged_out":
            return self.apply(agent_id, LogIn())
        if status == "paused":
            return self.apply(agent_id, Resume())
        if status == "wrap_up":
            return self.apply(agent_id, WrapUpDone())
        return self._request(agent_id, None, "ReadyRequested")

    def request_pause(self, agent_id: str, reason: str) -> AgentState:
        """Pause with `reason` now, or once the call that rings or is on is over."""
        status = self.state(agent_id).status
        if status in BUSY_STATUSES:
            wanted = AgentState("paused", self._clock(), reason=reason)
            return self._request(agent_id, wanted, "PauseRequested")
        if status == "logged_out":
            self.apply(agent_id, LogIn())  # no await in between: no offer can come
        return self.apply(agent_id, Pause(reason))

    def request_log_out(self, agent_id: str, cause: str = "") -> AgentState:
        """Out of the queues now, or once the call that rings or is on is over. `cause` names
        the trail entry when it is not the agent asking (``SessionExpired``: nobody sits at the
        console any more)."""
        status = self.state(agent_id).status
        if status in BUSY_STATUSES:
            wanted = AgentState("logged_out", self._clock())
            return self._request(agent_id, wanted, f"{cause or 'LogOut'}Requested")
        if status == "logged_out":
            return self.state(agent_id)
        return self.apply(agent_id, LogOut(), cause=cause)

    # the ACD's and the policy's verbs

    def log_in(self, agent_id: str) -> AgentState:
        return self.apply(agent_id, LogIn())

    def log_out(self, agent_id: str) -> AgentState:
        return self.apply(agent_id, LogOut())

    def pause(self, agent_id: str, reason: str) -> AgentState:
        return self.apply(agent_id, Pause(reason))

    def resume(self, agent_id: str) -> AgentState:
        return self.apply(agent_id, Resume())

    def offer(self, agent_id: str, call_id: str) -> AgentState:
        return self.apply(agent_id, Offer(call_id))

    def answered(self, agent_id: str) -> AgentState:
        return self.apply(agent_id, Answer())

    def no_answer(self, agent_id: str) -> AgentState:
        """The offer rang out: the agent is paused with reason "no answer" (or the reason of a
        pause they asked for meanwhile)."""
        return self.apply(agent_id, NoAnswer())

    def withdraw(self, agent_id: str) -> AgentState:
        return self.apply(agent_id, OfferWithdrawn())

    def call_ended(self, agent_id: str, wrap_up_s: float) -> AgentState:
        """The agent's call is over: wrap-up, ending by itself after `wrap_up_s` (0 = at once)."""
        state = self.apply(agent_id, CallEnded())
        if wrap_up_s <= 0:
            return self.apply(agent_id, WrapUpDone())
        loop = asyncio.get_running_loop()
        self._wrap_up_timers[agent_id] = loop.call_later(
            wrap_up_s, self._wrap_up_elapsed, agent_id, state.call_id
        )
        return state

    def wrap_up_done(self, agent_id: str) -> AgentState:
        return self.apply(agent_id, WrapUpDone())

    def close(self) -> None:
        """Cancel pending wrap-up timers (engine shutdown)."""
        for handle in self._wrap_up_timers.values():
            handle.cancel()
        self._wrap_up_timers.clear()

    def _cancel_wrap_up(self, agent_id: str) -> None:
        handle = self._wrap_up_timers.pop(agent_id, None)
        if handle is not None:
            handle.cancel()

    def _wrap_up_elapsed(self, agent_id: str, call_id: str | None) -> None:
        self._wrap_up_timers.pop(agent_id, None)
        state = self._states.get(agent_id)
        # the agent may have paused or logged out (and come back) since the timer was set
        if state is not None and state.status == "wrap_up" and state.call_id == call_id:
            self.apply(agent_id, WrapUpDone())


def _event_for(pending: AgentState) -> AgentEvent:
    if pending.status == "paused":
        return Pause(pending.reason or "")
    return LogOut()

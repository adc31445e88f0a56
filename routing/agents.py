"""The agent pool: every agent's live state, driven only through `routing.policy.transition`.

The ACD (`routing.queues`), the agent console and the wrap-up timers all change agents through
`AgentPool.apply`, which checks the move against the policy state machine, records it in the
append-only trail (`on_event`) and wakes whoever waits for a free agent. Wrap-up ends by itself
after the queue's `wrap_up_s` (a loop timer, no task). `snapshot()` is what a wallboard shows.
Agent state lives in memory: after an engine restart agents log in again (the console does it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from ivr.domain import utc_now
from routing.config import AgentConfig
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

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class AgentChange:
    """One entry of the agent event trail: `event` (a policy event's class name, e.g. `NoAnswer`)
    moved `agent_id` from `before` to `state` at `at`."""

    agent_id: str
    at: datetime
    event: str
    before: AgentStatus
    state: AgentState


@dataclass(frozen=True, slots=True)
class AgentView:
    """A wallboard row."""

    id: str
    endpoint: str
    skills: tuple[str, ...]
    status: AgentStatus
    since: datetime
    reason: str | None
    call_id: str | None


class UnknownAgent(KeyError):
    """No agent with that id is configured."""


class AgentPool:
    def __init__(
        self,
        agents: Mapping[str, AgentConfig],
        *,
        clock: Clock = utc_now,
        on_event: Callable[[AgentChange], None] | None = None,
    ) -> None:
        self._config = dict(agents)
        self._clock = clock
        self._on_event = on_event
        start = clock()
        self._states = {agent_id: AgentState("logged_out", start) for agent_id in self._config}
        self._wrap_up_timers: dict[str, asyncio.TimerHandle] = {}
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ reading

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._config

    def state(self, agent_id: str) -> AgentState:
        try:
            return self._states[agent_id]
        except KeyError:
            raise UnknownAgent(agent_id) from None

    def endpoint(self, agent_id: str) -> str:
        try:
            return self._config[agent_id].endpoint
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

    def snapshot(self) -> list[AgentView]:
        return [
            AgentView(
                id=agent_id,
                endpoint=cfg.endpoint,
                skills=cfg.skills,
                status=self._states[agent_id].status,
                since=self._states[agent_id].since,
                reason=self._states[agent_id].reason,
                call_id=self._states[agent_id].call_id,
            )
            for agent_id, cfg in sorted(self._config.items())
        ]

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

    # ------------------------------------------------------------------ changing

    def apply(self, agent_id: str, event: AgentEvent) -> AgentState:
        """Move an agent; raises `policy.InvalidTransition` for a move its state does not allow."""
        before = self.state(agent_id)
        now = self._clock()
        after = transition(before, event, now)
        self._states[agent_id] = after
        if after.status != "wrap_up":
            self._cancel_wrap_up(agent_id)
        if self._on_event is not None:
            self._on_event(AgentChange(agent_id, now, type(event).__name__, before.status, after))
        # wake every waiter once, then arm the event again for the next change
        self._changed.set()
        self._changed = asyncio.Event()
        return after

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
        """The offer rang out: the agent is paused with reason "no answer"."""
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
        state = self._states[agent_id]
        # the agent may have paused or logged out (and come back) since the timer was set
        if state.status == "wrap_up" and state.call_id == call_id:
            self.apply(agent_id, WrapUpDone())

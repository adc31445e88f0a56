"""After-call work: the agent classifies the call they just had with a wrap-up code.

When an agent leaves a call (`begin`: the caller or the agent hung up, or the agent handed the
call over) the agent is in wrap-up for the queue's `wrap_up_s` and no call is offered to them
(`AgentPool.call_ended`). `submit` records the code (one of `routing.wrap_up_codes`) and the
agent's notes on the call's trail (`WrapUpEvent`) and ends the wrap-up at once: the agent is
ready. If the wrap-up ends any other way — the timer ran out, or the agent went ready, paused or
logged out on the console — the call is recorded `unclassified` (with how it ended) at that
moment, and the reports count it so. A code given later still counts: the agent may classify
their last call until they answer the next one (the reports take a call's last `wrap_up`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from routing.agents import AgentChange, AgentPool, Clock
from routing.config import UNCLASSIFIED
from routing.model import WrapUpEvent

MAX_NOTES = 2000
"""The longest notes the console takes (characters)."""

TIMER_SLACK = timedelta(milliseconds=500)

Submitted = Literal["ok", "no_call", "unknown_code"]


@dataclass(frozen=True, slots=True)
class OpenWrapUp:
    """The call an agent classifies: `until` is when the wrap-up ends by itself (None: it has
    ended, the code may still be given); `reason` once recorded (`unclassified` included)."""

    call_id: str
    queue: str
    started_at: datetime
    until: datetime | None
    reason: str | None = None


class WrapUps:
    def __init__(
        self,
        agents: AgentPool,
        codes: Mapping[str, object],
        trail: Callable[[WrapUpEvent], None],
        *,
        clock: Clock,
    ) -> None:
        self._agents = agents
        self.codes = codes
        self._trail = trail
        self._clock = clock
        self._last: dict[str, OpenWrapUp] = {}
        agents.listen(self._agent_change)

    def begin(self, agent_id: str, call_id: str, queue: str, wrap_up_s: float) -> None:
        """The agent left the call: wrap-up for `wrap_up_s` (0: none, the agent is ready at once
        and the call unclassified until they give a code)."""
        now = self._clock()
        until = now + timedelta(seconds=wrap_up_s) if wrap_up_s > 0 else None
        self._last[agent_id] = OpenWrapUp(call_id, queue, now, until)
        self._agents.call_ended(agent_id, wrap_up_s)

    def resume(self, agent_id: str, wrap_up: OpenWrapUp) -> None:
        """After a restart: the agent is back in the wrap-up they were in (the pool's state, the
        call to classify, the deadline left). ValueError if the agent is not ready."""
        if wrap_up.until is None:
            raise ValueError("a wrap-up resumed has a deadline")
        remaining = (wrap_up.until - self._clock()).total_seconds()
        self._agents.resume_wrap_up(agent_id, wrap_up.call_id, wrap_up.started_at, remaining)
        self._last[agent_id] = wrap_up

    def last(self, agent_id: str) -> OpenWrapUp | None:
        """The call the agent may classify now (None: none since their last answered one)."""
        return self._last.get(agent_id)

    def submit(self, agent_id: str, call_id: str, reason: str, notes: str = "") -> Submitted:
        """Record `reason` and `notes` for the agent's last call; during wrap-up the agent is
        ready at once."""
        if reason not in self.codes:
            return "unknown_code"
        last = self._last.get(agent_id)
        if last is None or last.call_id != call_id:
            return "no_call"
        self._record(agent_id, last, reason, "agent", notes[:MAX_NOTES])
        state = self._agents.state(agent_id)
        if state.status == "wrap_up" and state.call_id == call_id:
            self._agents.wrap_up_done(agent_id)
        return "ok"

    def _record(
        self, agent_id: str, last: OpenWrapUp, reason: str, ended_by: str, notes: str = ""
    ) -> None:
        at = self._clock()
        self._last[agent_id] = replace(last, reason=reason, until=None)
        event = WrapUpEvent(
            last.call_id, last.queue, agent_id, at, reason, last.started_at, ended_by, notes
        )
        self._trail(event)

    def _agent_change(self, change: AgentChange) -> None:
        agent_id = change.agent_id
        last = self._last.get(agent_id)
        if last is None:
            return
        if change.state.status == "on_call":
            # the next call is answered: the last one can no longer be classified
            del self._last[agent_id]
            return
        if change.before != "wrap_up" or change.state.status == "wrap_up" or last.reason:
            return
        ended_by = change.event
        # the timer is the loop's, the clock the wall's: they may differ by a hair
        if change.event == "WrapUpDone" and (
            last.until is None or change.at >= last.until - TIMER_SLACK
        ):
            ended_by = "timeout"
        self._record(agent_id, last, UNCLASSIFIED, ended_by)

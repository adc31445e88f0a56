"""Pure routing decisions for the ACD: the agent state machine, which agent gets a call, the
order of waiting calls, the expected wait, whether a caller may join or must overflow, when to
announce, and when to offer a callback. Nothing here does I/O, reads the clock or awaits: callers
pass `now` and the current facts, and get values back. `routing.queues` and `routing.agents` do
the effects and the timers.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, TypeAlias

from routing.config import AnnounceConfig, CallbackConfig, QueueConfig

# --- agent state machine -------------------------------------------------------------------------

AgentStatus = Literal["logged_out", "ready", "paused", "offered", "on_call", "wrap_up"]

NO_ANSWER = "no answer"
"""Pause reason set when an offered call rings out unanswered."""


@dataclass(frozen=True, slots=True)
class AgentState:
    """Where an agent is and since when. `reason` is set only when paused; `call_id` only while
    offered, on a call or wrapping up."""

    status: AgentStatus
    since: datetime
    reason: str | None = None
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class LogIn:
    pass


@dataclass(frozen=True, slots=True)
class LogOut:
    pass


@dataclass(frozen=True, slots=True)
class Pause:
    reason: str


@dataclass(frozen=True, slots=True)
class Resume:
    """Paused → ready."""


@dataclass(frozen=True, slots=True)
class Offer:
    call_id: str


@dataclass(frozen=True, slots=True)
class Answer:
    pass


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """The agent's phone rang for `ring_timeout_s` without answer, or the agent declined."""


@dataclass(frozen=True, slots=True)
class Reject:
    """The agent declined the offer on the console while the phone rang: back to ready at once
    (the agent chose to stay available; `QueuedCall.declined_by` keeps this call away from
    them). Unlike `NoAnswer`, no pause: the agent did answer the console, just not the call."""


@dataclass(frozen=True, slots=True)
class OfferWithdrawn:
    """The caller hung up (or was taken by overflow) while the agent's phone rang."""


@dataclass(frozen=True, slots=True)
class CallEnded:
    pass


@dataclass(frozen=True, slots=True)
class WrapUpDone:
    """The agent finished after-call work, or `wrap_up_s` ran out."""


AgentEvent: TypeAlias = (
    LogIn
    | LogOut
    | Pause
    | Resume
    | Offer
    | Answer
    | NoAnswer
    | Reject
    | OfferWithdrawn
    | CallEnded
    | WrapUpDone
)


class InvalidTransition(ValueError):
    """An agent event that is not allowed in the agent's current state."""

    def __init__(self, state: AgentState, event: AgentEvent) -> None:
        allowed = ", ".join(sorted(ALLOWED_EVENTS[state.status]))
        super().__init__(
            f"agent in {state.status!r} cannot take {type(event).__name__} (allowed: {allowed})"
        )
        self.state = state
        self.event = event


ALLOWED_EVENTS: dict[AgentStatus, frozenset[str]] = {
    "logged_out": frozenset({"LogIn"}),
    "ready": frozenset({"LogOut", "Pause", "Offer"}),
    "paused": frozenset({"LogOut", "Pause", "Resume"}),
    "offered": frozenset({"Answer", "NoAnswer", "OfferWithdrawn", "Reject"}),
    "on_call": frozenset({"CallEnded"}),
    "wrap_up": frozenset({"LogOut", "Pause", "WrapUpDone"}),
}
"""Which events each status accepts; everything else raises `InvalidTransition`. Logging out
while offered or on a call is refused: the call must end (or the offer be withdrawn) first."""


def transition(state: AgentState, event: AgentEvent, now: datetime) -> AgentState:
    """The agent's next state. Pausing while paused changes the reason but keeps `since`."""
    if type(event).__name__ not in ALLOWED_EVENTS[state.status]:
        raise InvalidTransition(state, event)
    match event:
        case LogIn():
            return AgentState("ready", now)
        case LogOut():
            return AgentState("logged_out", now)
        case Pause(reason=reason):
            since = state.since if state.status == "paused" else now
            return AgentState("paused", since, reason=reason)
        case Resume() | WrapUpDone() | OfferWithdrawn() | Reject():
            return AgentState("ready", now)
        case Offer(call_id=call_id):
            return AgentState("offered", now, call_id=call_id)
        case Answer():
            return AgentState("on_call", now, call_id=state.call_id)
        case NoAnswer():
            return AgentState("paused", now, reason=NO_ANSWER)
        case CallEnded():
            return AgentState("wrap_up", now, call_id=state.call_id)
    raise InvalidTransition(state, event)  # pragma: no cover - the match is exhaustive


# --- agents and waiting calls --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    skills: frozenset[str]
    state: AgentState

    @property
    def staffed(self) -> bool:
        """Counts towards capacity: logged in and not paused."""
        return self.state.status not in ("logged_out", "paused")


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """A caller waiting in a queue. Higher `priority` is served first (as in app_queue); equal
    priorities in enqueue order. `offered_to` is set while an agent's phone rings for it;
    `declined_by` are the agents who rejected it during this wait (never offered it again)."""

    call_id: str
    enqueued_at: datetime
    priority: int = 0
    skills: frozenset[str] = frozenset()
    offered_to: str | None = None
    declined_by: frozenset[str] = frozenset()


def select_agent(agents: Iterable[Agent], skills: Collection[str] = ()) -> Agent | None:
    """The ready agent with every required skill who has been ready the longest (earliest
    `state.since`); ties go to the smaller agent id. None when nobody fits."""
    fitting = [a for a in agents if a.state.status == "ready" and set(skills) <= a.skills]
    return min(fitting, key=lambda a: (a.state.since, a.id), default=None)


def order_queue(calls: Iterable[QueuedCall]) -> list[QueuedCall]:
    """Service order: priority (high first), then enqueue time; stable for exact ties."""
    return sorted(calls, key=lambda c: (-c.priority, c.enqueued_at))


def position_of(calls: Iterable[QueuedCall], call_id: str) -> int:
    """1-based place of `call_id` in service order (as `order_queue`, exact ties in the order
    given); ValueError if it is not queued. Counts the calls ahead instead of sorting: every
    waiting caller asks several times a second, so a sort made a busy queue cost n² log n."""
    listed = list(calls)
    index = next((i for i, c in enumerate(listed) if c.call_id == call_id), None)
    if index is None:
        raise ValueError(f"call {call_id!r} is not in the queue")
    key = (-listed[index].priority, listed[index].enqueued_at)
    ahead = 0
    for other_index, other in enumerate(listed):
        other_key = (-other.priority, other.enqueued_at)
        if other_key < key or (other_key == key and other_index < index):
            ahead += 1
    return ahead + 1


def plan_offers(calls: Iterable[QueuedCall], agents: Iterable[Agent]) -> list[tuple[str, str]]:
    """(call_id, agent_id) offers to make now: calls in service order, each to the longest-idle
    ready agent with its skills who has not declined it. Calls already ringing an agent are
    skipped; a call no agent can take does not block the calls behind it that need other skills
    (or that other agents may take)."""
    free = [a for a in agents if a.state.status == "ready"]
    offers: list[tuple[str, str]] = []
    for call in order_queue(calls):
        if call.offered_to is not None:
            continue
        willing = [a for a in free if a.id not in call.declined_by] if call.declined_by else free
        agent = select_agent(willing, call.skills)
        if agent is not None:
            offers.append((call.call_id, agent.id))
            free.remove(agent)
    return offers


@dataclass(frozen=True, slots=True)
class RingNoAnswer:
    agent: AgentState
    call: QueuedCall


def ring_no_answer(agent: AgentState, call: QueuedCall, now: datetime) -> RingNoAnswer:
    """An offer rang out: the agent is paused ("no answer") and the caller keeps their place
    (same priority and enqueue time), free to be offered to the next agent."""
    return RingNoAnswer(transition(agent, NoAnswer(), now), replace(call, offered_to=None))


# --- expected wait, admission, overflow ---------------------------------------------------------


def expected_wait_s(
    position: int, staffed: int, ready: int, average_handle_s: float
) -> float | None:
    """Expected wait of the caller at 1-based `position`, or None when no agent is staffed.

    Formula: the first `ready` callers are taken at once; every other caller needs an agent to
    finish a call. With `staffed` agents busy and calls ending at random points, one finishes on
    average every AHT / staffed seconds, so

        EWT = max(0, position − ready) × AHT / staffed

    (AHT = talk + hold + wrap-up). It ignores abandons, so it errs on the long side.
    """
    if position < 1:
        raise ValueError(f"position is 1-based, got {position}")
    if staffed <= 0:
        return None
    waiting_for_release = max(0, position - ready)
    return waiting_for_release * average_handle_s / staffed


Decision = Literal["join", "stay", "refuse", "overflow"]
Reason = Literal["ok", "full", "no_agents", "max_wait", "expected_wait"]


@dataclass(frozen=True, slots=True)
class Admission:
    decision: Decision
    reason: Reason


def admit(
    cfg: QueueConfig, *, waiting: int, staffed: int, expected_wait: float | None
) -> Admission:
    """Whether a new caller joins the queue. `waiting` counts callers already queued;
    `expected_wait` is the new caller's estimate (None when nobody is staffed)."""
    if staffed == 0:
        if cfg.when_no_agents != "join":
            return Admission(cfg.when_no_agents, "no_agents")
    if cfg.max_length is not None and waiting >= cfg.max_length:
        return Admission(cfg.when_full, "full")
    if (
        cfg.max_expected_wait_s is not None
        and expected_wait is not None
        and expected_wait > cfg.max_expected_wait_s
    ):
        return Admission("overflow", "expected_wait")
    return Admission("join", "ok")


def keep_waiting(cfg: QueueConfig, *, waited_s: float, staffed: int) -> Admission:
    """Re-checked while a caller waits: overflow after `max_wait_s`; if every agent logs out,
    apply `when_no_agents` again (`join` means stay)."""
    if cfg.max_wait_s is not None and waited_s >= cfg.max_wait_s:
        return Admission("overflow", "max_wait")
    if staffed == 0 and cfg.when_no_agents != "join":
        return Admission(cfg.when_no_agents, "no_agents")
    return Admission("stay", "ok")


# --- announcements and callbacks -----------------------------------------------------------------


def next_announcement_at(
    cfg: AnnounceConfig, entered_at: datetime, last_announced_at: datetime | None
) -> datetime | None:
    """When the next position / expected-wait announcement is due: on entry (if `on_entry`),
    then every `every_s` after the last one (or after entry). None when never again."""
    if not (cfg.position or cfg.expected_wait):
        return None
    if last_announced_at is None and cfg.on_entry:
        return entered_at
    if cfg.every_s is None:
        return None
    return (last_announced_at or entered_at) + timedelta(seconds=cfg.every_s)


def announcement_due(
    cfg: AnnounceConfig, entered_at: datetime, last_announced_at: datetime | None, now: datetime
) -> bool:
    due = next_announcement_at(cfg, entered_at, last_announced_at)
    return due is not None and now >= due


def announced_minutes(expected_wait: float) -> int:
    """Expected wait as callers hear it: whole minutes, rounded up, at least 1."""
    return max(1, math.ceil(expected_wait / 60))


def callback_eligible(
    cfg: CallbackConfig,
    *,
    open_now: bool,
    waited_s: float,
    expected_wait: float | None,
    already_offered: bool,
) -> bool:
    """Offer a callback only while the queue's calendar is open (an agent must be able to call
    back today), at most once per call, after `after_s` of waiting or as soon as the expected
    wait exceeds `expected_wait_over_s` (an unknown wait — nobody staffed — counts as long)."""
    if not cfg.enabled or not open_now or already_offered:
        return False
    if cfg.after_s is not None and waited_s >= cfg.after_s:
        return True
    if cfg.expected_wait_over_s is not None:
        return expected_wait is None or expected_wait > cfg.expected_wait_over_s
    return False


def staffing(agents: Sequence[Agent], skills: Collection[str] = ()) -> tuple[int, int]:
    """(staffed, ready) counts among agents with every required skill, for `expected_wait_s`."""
    fitting = [a for a in agents if set(skills) <= a.skills]
    return (
        sum(1 for a in fitting if a.staffed),
        sum(1 for a in fitting if a.state.status == "ready"),
    )

"""One call's trail reduced to what the reports count (`Contact`): pure, no I/O.

The reduction reads the trail's kinds as the engine writes them: the queue's (`enqueued`,
`rejoined`, `moved`, `answered`, `abandoned`, `overflow`, `closed`, `callback_*`,
`call_ended`, `transferred`), the
transfer's (`to_department`, `transfer_*`, `put_through`, `emergency_*`), the flow's (`hours`,
`intake_created`, `to_emergency`) and, when the agent console writes them, `wrap_up` events with
a `reason` (the call's classification) and `hold_started` / `hold_ended` (the caller on hold:
hold time is counted apart from talk time, talk being answered → ended less the holds; a hold
the trail never closed lasts until the talk ended). A call is one `calls`
row whatever happened to the engine: a call re-adopted after a restart (`detached`, then
`rejoined` or `talk_resumed` by the next engine) is still one contact, its wait counted from
its first enqueue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr.domain import TOKYO

# the queue part of a call ends in one of these
OUTCOMES = ("answered", "abandoned", "callback", "overflow", "closed", "unfinished")
# a department (or an on-duty phone) took the call
_PUT_THROUGH = frozenset(
    {"transfer_connected", "transfer_blind", "put_through", "emergency_connected"}
)
_CLOSED_HOURS = frozenset({"closed", "holiday"})


@dataclass(frozen=True, slots=True)
class CallRow:
    """The `calls` row the trail belongs to."""

    call_id: str
    started_at: datetime
    ended_at: datetime | None
    reason_code: str | None
    account_id: int | None


@dataclass(frozen=True, slots=True)
class TrailItem:
    kind: str
    at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Contact:
    """What the reports count of one call (a `report_contacts` row)."""

    call_id: str
    started_at: datetime
    day: str
    minute: int
    in_hours: bool
    queue: str | None = None
    callback_of: str | None = None
    outcome: str | None = None
    wait_s: float | None = None
    agent: str | None = None
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    callback_requested: bool = False
    callback_dialled: bool = False
    callback_failed: bool = False
    closed: bool = False
    self_served: bool = False
    intakes: int = 0
    department: str | None = None
    transferred: bool = False
    emergency: bool = False
    reason_code: str | None = None
    wrap_reason: str | None = None
    account_id: int | None = None
    ended: bool = False

    def row(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in self.__slots__}
        values["epoch_s"] = int(self.started_at.timestamp())
        return values


OpeningHours = Callable[[datetime, str | None], bool]
"""Whether a call that started at `at` came within opening hours: by the calendar of its queue
(the queue's name) when it was queued, else (None) by the hotline's own (`reports.calendar`)."""


def one_calendar(is_open: Callable[[datetime], bool]) -> OpeningHours:
    """`OpeningHours` that ask one calendar whatever the queue."""
    return lambda at, _queue: is_open(at)


def tokyo_slot(at: datetime) -> tuple[str, int]:
    """The Tokyo calendar day (ISO) and minute of the day of `at`."""
    local = at.astimezone(TOKYO)
    return local.date().isoformat(), local.hour * 60 + local.minute


class _Queue:
    """The queue part of the trail as it is read: the queue the call is counted in, since
    when it waited, how it ended.

    A caller a supervisor moves to another queue (`moved`, then `enqueued` there) is counted
    in the queue they end up in, waiting since they first queued: the engine keeps their place
    by that time, and the caller's wait did not restart. A call an agent handed on to another
    queue (`transferred`, detail `queue:<name>`) stays counted where it was answered, with
    that wait and that agent's talk."""

    def __init__(self) -> None:
        self.queue: str | None = None
        self.since: datetime | None = None
        self.callback_of: str | None = None
        self.outcome: str | None = None
        self.ended_at: datetime | None = None
        self.agent: str | None = None
        self.answered_at: datetime | None = None
        self.talk_end: datetime | None = None
        self.moving_to: str | None = None
        self.handed_on = False

    def enter(self, item: TrailItem) -> None:
        queue = str(item.data.get("queue", ""))
        if self.handed_on:
            return
        if queue == self.moving_to and self.since is not None:
            self.queue, self.moving_to = queue, None
        elif queue != self.queue or self.since is None:
            # a re-adopted caller rejoins the queue it was in: the wait goes on from the enqueue
            self.queue, self.since = queue, item.at
            if self.outcome != "answered":
                self.outcome, self.ended_at = None, None
        if item.kind == "callback_answered":
            self.callback_of = str(item.data.get("detail", "")) or None

    def move(self, item: TrailItem) -> None:
        """A supervisor moved the waiting caller (detail: the queue)."""
        if self.outcome is None:
            self.moving_to = str(item.data.get("detail", "")) or None

    def hand_on(self, item: TrailItem) -> None:
        """The agent transferred the caller (detail `queue:<name>` for another queue)."""
        if self.outcome == "answered" and str(item.data.get("detail", "")).startswith("queue:"):
            self.handed_on = True

    def talk_ended(self, item: TrailItem) -> None:
        if not self.handed_on:
            self.talk_end = item.at

    def leave(self, outcome: str, item: TrailItem) -> None:
        if self.outcome == "answered" or self.handed_on:
            return
        if outcome == "answered":
            self.agent = str(item.data.get("agent", "")) or None
            self.answered_at = item.at
        self.outcome, self.ended_at = outcome, item.at

    @property
    def wait_s(self) -> float | None:
        if self.since is None or self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.since).total_seconds())


_ENTER = frozenset({"enqueued", "rejoined", "callback_answered"})
_LEAVE = {
    "answered": "answered",
    "abandoned": "abandoned",
    "callback_scheduled": "callback",
    "overflow": "overflow",
    "closed": "closed",
}


def contact_of(
    call: CallRow,
    trail: Sequence[TrailItem],
    hours: OpeningHours,
    wrap_s: float = 0.0,
) -> Contact:
    """Reduce `call`'s trail (in the order written) to its `Contact`; `hours` says whether
    the call came within opening hours (by the calendar of the queue it is counted in),
    `wrap_s` is the agent's wrap-up after it (from the agent trail)."""
    q = _Queue()
    facts: dict[str, Any] = {"intakes": 0, "hold_s": 0.0}
    hold_from: datetime | None = None
    for item in trail:
        kind = item.kind
        if kind in _ENTER:
            q.enter(item)
        elif kind in _LEAVE and "queue" in item.data and q.queue is not None:
            q.leave(_LEAVE[kind], item)
        elif kind == "call_ended":
            q.talk_ended(item)
        elif kind == "moved":
            q.move(item)
        elif kind == "transferred":
            q.hand_on(item)
        elif kind == "hold_started":
            hold_from = item.at
        elif kind == "hold_ended" and hold_from is not None:
            facts["hold_s"] += (item.at - hold_from).total_seconds()
            hold_from = None
        else:
            _note(facts, item)
    facts["hold_open"] = hold_from
    facts["wrap_s"] = wrap_s
    return _contact(call, q, facts, hours)


def _note(facts: dict[str, Any], item: TrailItem) -> None:
    """The call-level facts of one trail entry outside the queue."""
    kind, data = item.kind, item.data
    if kind == "intake_created":
        facts["intakes"] += 1
    elif kind == "hours" and data.get("state") in _CLOSED_HOURS:
        facts["closed"] = True
    elif kind == "closed":
        # a department's calendar was closed (the queue's own "closed" is a queue outcome)
        facts["closed"] = True
    elif kind in ("callback_dialing", "callback_failed"):
        facts[kind] = True
    elif kind == "to_department":
        facts.setdefault("department", str(data.get("department", "")) or None)
    elif kind in _PUT_THROUGH:
        facts["transferred"] = True
        facts.setdefault("department", str(data.get("department", "")) or None)
    elif kind == "to_emergency":
        facts["emergency"] = True
    elif kind == "wrap_up" and data.get("reason"):
        facts["wrap_reason"] = str(data["reason"])[:64]
    elif kind in ("ended", "detached"):
        facts["last_at"] = item.at


def _contact(call: CallRow, q: _Queue, facts: dict[str, Any], hours: OpeningHours) -> Contact:
    day, minute = tokyo_slot(call.started_at)
    outcome = q.outcome
    if q.queue is not None and outcome is None:
        outcome = "abandoned" if call.ended_at is not None else "unfinished"
        q.ended_at = call.ended_at or facts.get("last_at")
    talk_s, hold_s = 0.0, facts["hold_s"]
    if q.answered_at is not None:
        end = q.talk_end or call.ended_at or facts.get("last_at") or q.answered_at
        hold_open: datetime | None = facts["hold_open"]
        if hold_open is not None:
            hold_s += max(0.0, (end - hold_open).total_seconds())
        # the holds are inside the talk: counted once, as hold (AHT = talk + hold + wrap-up)
        talk_s = max(0.0, (end - q.answered_at).total_seconds() - hold_s)
    answered = outcome == "answered"
    return Contact(
        call_id=call.call_id,
        started_at=call.started_at,
        day=day,
        minute=minute,
        in_hours=hours(call.started_at, q.queue),
        queue=q.queue,
        callback_of=q.callback_of,
        outcome=outcome,
        wait_s=q.wait_s,
        agent=q.agent,
        talk_s=talk_s,
        hold_s=hold_s,
        wrap_s=facts["wrap_s"],
        callback_requested=outcome == "callback",
        callback_dialled=facts.get("callback_dialing", False),
        callback_failed=facts.get("callback_failed", False),
        closed=facts.get("closed", False) or outcome == "closed",
        self_served=facts["intakes"] > 0 and not answered and not facts.get("transferred"),
        intakes=facts["intakes"],
        department=facts.get("department"),
        transferred=facts.get("transferred", False),
        emergency=facts.get("emergency", False),
        reason_code=call.reason_code,
        wrap_reason=facts.get("wrap_reason"),
        account_id=call.account_id,
        ended=call.ended_at is not None,
    )

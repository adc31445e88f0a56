"""What the supervisor's wallboard shows, as data: `board_of` puts today's figures from the
trail (`ivr.reports.today`), the live queues (who waits, since when, callback places) and the
agent pool's states together into one `Board`, the same for the page, its live channel and
`GET /api/v1/wallboard`.

Waiting callers carry no personal data: a call id, queue, position, wait, language and whether
it is a callback place. The caller's number and account are shown only when a supervisor opens
the caller (`ivr.web.wallboard`, audited). An agent's line says whether their caller is on hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ivr.reports.metrics import SERVICE_LEVELS, QueueFigures
from ivr.reports.today import TOTAL, Today
from routing.agents import AgentView
from routing.model import CallbackRequest
from routing.policy import QueuedCall

STATES = ("ready", "offered", "on_call", "wrap_up", "paused", "logged_out")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class AgentCounts(_Model):
    """Agents by state; `paused_by_reason` splits `paused`."""

    ready: int = 0
    offered: int = 0
    on_call: int = 0
    wrap_up: int = 0
    paused: int = 0
    logged_out: int = 0
    paused_by_reason: dict[str, int] = {}


class QueueLine(_Model):
    """One queue (or `TOTAL`): now (waiting, longest wait, callbacks, agents) and today."""

    queue: str
    waiting: int
    longest_wait_s: int
    longest_since: datetime | None
    """When the caller waiting longest joined (the page counts the wait on from it)."""
    callbacks_waiting: int
    agents: AgentCounts
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    service_level: float | None
    asa_s: float | None


class WaitingCaller(_Model):
    call_id: str
    queue: str
    position: int
    since: datetime
    wait_s: int
    language: str
    callback: bool


class AgentLine(_Model):
    agent: str
    status: str
    reason: str | None
    since: datetime
    pending: str | None
    queues: list[str]
    on_hold: bool = False
    """On a call whose caller the agent has put on hold."""


class Formula(_Model):
    key: str
    label: str
    formula: str
    answer_s: float
    short_abandon_s: float


class Board(_Model):
    at: datetime
    day: str
    """The Tokyo day of today's figures (ISO date)."""
    service_level: Formula
    queues: list[QueueLine]
    """`TOTAL` first, then each queue in configured order."""
    waiting: list[WaitingCaller]
    agents: list[AgentLine]


@dataclass(frozen=True, slots=True)
class LiveState:
    """The queues now: each queue's callers in service order, the callback places, and the
    language a live caller chose (None when not known)."""

    waiting: Mapping[str, list[QueuedCall]]
    callbacks: list[CallbackRequest]
    language_of: Callable[[str], str | None]
    held: frozenset[str] = frozenset()
    """The calls whose caller is on hold now."""


NO_QUEUES = LiveState({}, [], lambda _call_id: None)


def formula_of(headline: str, answer_s: float, short_abandon_s: float) -> Formula:
    level = next(v for v in SERVICE_LEVELS if v.key == headline)
    return Formula(
        key=level.key,
        label=level.label,
        formula=level.formula,
        answer_s=answer_s,
        short_abandon_s=short_abandon_s,
    )


def count_agents(agents: Iterable[AgentView]) -> AgentCounts:
    states = Counter(a.status for a in agents)
    reasons = Counter(a.reason or "" for a in agents if a.status == "paused")
    return AgentCounts(
        ready=states["ready"],
        offered=states["offered"],
        on_call=states["on_call"],
        wrap_up=states["wrap_up"],
        paused=states["paused"],
        logged_out=states["logged_out"],
        paused_by_reason=dict(sorted(reasons.items())),
    )


def waiting_callers(live: LiveState, now: datetime) -> list[WaitingCaller]:
    callbacks = {r.call_id: r for r in live.callbacks}
    out = []
    for queue, calls in live.waiting.items():
        for position, call in enumerate(calls, start=1):
            request = callbacks.get(call.call_id)
            language = request.language if request else live.language_of(call.call_id)
            out.append(
                WaitingCaller(
                    call_id=call.call_id,
                    queue=queue,
                    position=position,
                    since=call.enqueued_at,
                    wait_s=max(0, int((now - call.enqueued_at).total_seconds())),
                    language=language or "",
                    callback=request is not None,
                )
            )
    return out


def _line(
    queue: str,
    figures: QueueFigures,
    waiting: list[WaitingCaller],
    agents: list[AgentView],
    headline: str,
) -> QueueLine:
    return QueueLine(
        queue=queue,
        waiting=sum(not w.callback for w in waiting),
        longest_wait_s=max((w.wait_s for w in waiting), default=0),
        longest_since=min((w.since for w in waiting), default=None),
        callbacks_waiting=sum(w.callback for w in waiting),
        agents=count_agents(agents),
        offered=figures.offered,
        answered=figures.answered,
        abandoned=figures.abandoned,
        short_abandons=figures.short_abandons,
        service_level=figures.service_levels()[headline],
        asa_s=figures.asa_s,
    )


def board_of(
    today: Today,
    live: LiveState,
    agents: list[AgentView],
    queue_skills: Mapping[str, frozenset[str]],
    formula: Formula,
    now: datetime,
) -> Board:
    """The board at `now`; `queue_skills` are the configured queues (in order) and the skills
    an agent needs to take their calls."""
    waiting = waiting_callers(live, now)
    names = [*queue_skills, *(q for q in today.figures if q != TOTAL and q not in queue_skills)]
    lines = [_line(TOTAL, today.figures[TOTAL], waiting, agents, formula.key)]
    for name in names:
        skills = queue_skills.get(name, frozenset())
        lines.append(
            _line(
                name,
                today.figures.get(name, QueueFigures()),
                [w for w in waiting if w.queue == name],
                [a for a in agents if skills <= set(a.skills)],
                formula.key,
            )
        )
    return Board(
        at=now,
        day=today.start.date().isoformat(),
        service_level=formula,
        queues=lines,
        waiting=sorted(waiting, key=lambda w: (w.since, w.queue)),
        agents=[
            AgentLine(
                agent=a.id,
                status=a.status,
                reason=a.reason,
                since=a.since,
                pending=a.pending.status if a.pending else None,
                queues=[q for q, s in queue_skills.items() if s <= set(a.skills)],
                on_hold=a.status == "on_call" and a.call_id in live.held,
            )
            for a in agents
        ],
    )

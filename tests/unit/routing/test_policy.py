"""Policy tables: agent states, agent selection, queue order, wait estimate, overflow, callbacks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import get_args

import pytest

from ivr.domain import TOKYO
from routing.config import AnnounceConfig, CallbackConfig, QueueConfig
from routing.policy import (
    ALLOWED_EVENTS,
    NO_ANSWER,
    Admission,
    Agent,
    AgentEvent,
    AgentState,
    AgentStatus,
    Answer,
    CallEnded,
    InvalidTransition,
    LogIn,
    LogOut,
    NoAnswer,
    Offer,
    OfferWithdrawn,
    Pause,
    QueuedCall,
    Reject,
    Resume,
    WrapUpDone,
    admit,
    announced_minutes,
    announcement_due,
    callback_eligible,
    expected_wait_s,
    keep_waiting,
    next_announcement_at,
    order_queue,
    plan_offers,
    position_of,
    ring_no_answer,
    select_agent,
    staffing,
    transition,
)

pytestmark = pytest.mark.unit

T0 = datetime(2025, 4, 1, 9, 0, tzinfo=TOKYO)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(status: AgentStatus, since: float = 0, **kw: str) -> AgentState:
    return AgentState(status, at(since), **kw)


def agent(id_: str, status: AgentStatus, since: float, *skills: str) -> Agent:
    return Agent(id_, frozenset(skills), state(status, since))


# --- agent state machine -------------------------------------------------------------------------

ONE_OF_EACH: list[AgentEvent] = [
    LogIn(), LogOut(), Pause("lunch"), Resume(), Offer("c1"), Answer(), NoAnswer(),
    OfferWithdrawn(), Reject(), CallEnded(), WrapUpDone(),
]  # fmt: skip
STATUSES: tuple[AgentStatus, ...] = get_args(AgentStatus)


@pytest.mark.parametrize(
    ("before", "event", "after"),
    [
        (state("logged_out"), LogIn(), AgentState("ready", at(5))),
        (state("ready"), Pause("lunch"), AgentState("paused", at(5), reason="lunch")),
        (state("ready"), LogOut(), AgentState("logged_out", at(5))),
        (state("ready"), Offer("c1"), AgentState("offered", at(5), call_id="c1")),
        (state("paused", reason="lunch"), Resume(), AgentState("ready", at(5))),
        (state("paused", reason="lunch"), Pause("training"), state("paused", reason="training")),
        (state("paused", reason="lunch"), LogOut(), AgentState("logged_out", at(5))),
        (state("offered", call_id="c1"), Answer(), AgentState("on_call", at(5), call_id="c1")),
        (state("offered", call_id="c1"), NoAnswer(), AgentState("paused", at(5), reason=NO_ANSWER)),
        (state("offered", call_id="c1"), OfferWithdrawn(), AgentState("ready", at(5))),
        # a reject on the console: ready at once, not paused like a phone left ringing
        (state("offered", call_id="c1"), Reject(), AgentState("ready", at(5))),
        (state("on_call", call_id="c1"), CallEnded(), AgentState("wrap_up", at(5), call_id="c1")),
        (state("wrap_up", call_id="c1"), WrapUpDone(), AgentState("ready", at(5))),
        (
            state("wrap_up", call_id="c1"),
            Pause("break"),
            AgentState("paused", at(5), reason="break"),
        ),
        (state("wrap_up", call_id="c1"), LogOut(), AgentState("logged_out", at(5))),
    ],
)
def test_valid_transitions(before: AgentState, event: AgentEvent, after: AgentState) -> None:
    assert transition(before, event, at(5)) == after


INVALID = [
    (status, event)
    for status in STATUSES
    for event in ONE_OF_EACH
    if type(event).__name__ not in ALLOWED_EVENTS[status]
]


def test_the_invalid_table_covers_every_other_pair() -> None:
    allowed = sum(len(events) for events in ALLOWED_EVENTS.values())
    assert len(INVALID) + allowed == len(STATUSES) * len(ONE_OF_EACH)
    assert len(INVALID) == 51


@pytest.mark.parametrize(
    ("status", "event"), INVALID, ids=[f"{s}-{type(e).__name__}" for s, e in INVALID]
)
def test_invalid_transitions_are_refused(status: AgentStatus, event: AgentEvent) -> None:
    before = state(status)
    with pytest.raises(InvalidTransition, match=f"agent in '{status}' cannot take") as info:
        transition(before, event, at(5))
    assert info.value.state is before
    assert info.value.event is event


def test_ring_no_answer_pauses_agent_and_caller_keeps_place() -> None:
    calls = [
        QueuedCall("early", at(0), offered_to="a1"),
        QueuedCall("late", at(30)),
    ]
    result = ring_no_answer(state("offered", call_id="early"), calls[0], at(60))
    assert result.agent == AgentState("paused", at(60), reason="no answer")
    assert result.call == QueuedCall("early", at(0))
    assert position_of([result.call, calls[1]], "early") == 1
    # the next ready agent is offered the same caller, first
    agents = [agent("a2", "ready", 10)]
    assert plan_offers([result.call, calls[1]], agents) == [("early", "a2")]


# --- selection and order -------------------------------------------------------------------------

AGENTS = [
    agent("a3", "ready", 30, "start_stop", "ja"),
    agent("a1", "ready", 10, "start_stop", "ja"),
    agent("a2", "ready", 10, "start_stop", "ja", "en"),
    agent("a0", "paused", 0, "start_stop", "ja", "en"),
    agent("a4", "on_call", 0, "billing", "ja"),
    agent("a5", "ready", 50, "billing", "ja"),
    agent("a6", "wrap_up", 0, "start_stop", "en"),
]


@pytest.mark.parametrize(
    ("skills", "chosen"),
    [
        ((), "a1"),  # longest idle; a1 and a2 tie at 10 s, a1 has the smaller id
        (("start_stop",), "a1"),
        (("start_stop", "en"), "a2"),  # a0 is paused, a6 is in wrap-up
        (("billing",), "a5"),  # a4 is on a call
        (("leak",), None),
    ],
)
def test_select_agent(skills: tuple[str, ...], chosen: str | None) -> None:
    selected = select_agent(AGENTS, skills)
    assert (selected.id if selected else None) == chosen


def test_select_agent_among_nobody_ready() -> None:
    assert select_agent([agent("a0", "paused", 0, "x"), agent("a1", "offered", 0, "x")]) is None


def test_queue_order_priority_then_time_then_stable() -> None:
    calls = [
        QueuedCall("c1", at(0)),
        QueuedCall("c2", at(10), priority=5),
        QueuedCall("c3", at(5)),
        QueuedCall("c4", at(20), priority=5),
        QueuedCall("c5", at(5)),  # same instant as c3: stays behind it
        QueuedCall("c6", at(1), priority=-1),
    ]
    assert [c.call_id for c in order_queue(calls)] == ["c2", "c4", "c1", "c3", "c5", "c6"]
    assert position_of(calls, "c1") == 3
    with pytest.raises(ValueError, match="not in the queue"):
        position_of(calls, "gone")
    # every caller's place is its place in the service order, ties included
    assert [position_of(calls, c.call_id) for c in order_queue(calls)] == [1, 2, 3, 4, 5, 6]


def test_plan_offers_skips_ringing_calls_and_unmatched_skills() -> None:
    calls = [
        QueuedCall("ringing", at(0), offered_to="a9"),
        QueuedCall("english", at(1), skills=frozenset({"en"})),
        QueuedCall("first", at(2), skills=frozenset({"start_stop"})),
        QueuedCall("second", at(3), skills=frozenset({"start_stop"})),
        QueuedCall("third", at(4), skills=frozenset({"start_stop"})),
    ]
    # a2 (en) is taken by the English caller; a1 then a3 serve the others in order
    assert plan_offers(calls, AGENTS) == [("english", "a2"), ("first", "a1"), ("second", "a3")]


def test_a_call_is_not_planned_for_an_agent_who_rejected_it() -> None:
    calls = [
        QueuedCall("first", at(2), skills=frozenset({"start_stop"}), declined_by=frozenset({"a1"})),
        QueuedCall("second", at(3), skills=frozenset({"start_stop"})),
    ]
    # a1 (longest idle) declined the first caller: it goes to a2, and a1 takes the second
    assert plan_offers(calls, AGENTS) == [("first", "a2"), ("second", "a1")]
    everyone = frozenset({"a1", "a2", "a3"})
    # everyone who could take it declined it: it waits, and does not hold up the call behind
    assert plan_offers([replace(calls[0], declined_by=everyone), calls[1]], AGENTS) == [
        ("second", "a1")
    ]


# --- expected wait ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "staffed", "ready", "wait"),
    [
        (1, 3, 1, 0.0),  # an agent is free
        (1, 3, 0, 100.0),  # 300 s AHT / 3 agents
        (4, 3, 0, 400.0),
        (4, 3, 2, 200.0),
        (2, 1, 0, 600.0),
        (1, 0, 0, None),  # nobody staffed: unknown
    ],
)
def test_expected_wait(position: int, staffed: int, ready: int, wait: float | None) -> None:
    assert expected_wait_s(position, staffed, ready, 300) == wait


def test_expected_wait_rejects_position_zero() -> None:
    with pytest.raises(ValueError, match="1-based"):
        expected_wait_s(0, 1, 0, 300)


def test_staffing_counts_by_skill() -> None:
    assert staffing(AGENTS, ("start_stop",)) == (4, 3)  # a0 paused does not count
    assert staffing(AGENTS) == (6, 4)


@pytest.mark.parametrize(("seconds", "minutes"), [(0, 1), (59, 1), (60, 1), (61, 2), (600, 10)])
def test_announced_minutes(seconds: float, minutes: int) -> None:
    assert announced_minutes(seconds) == minutes


# --- admission and overflow ----------------------------------------------------------------------

QUEUE = QueueConfig(calendar="phone", max_length=10, max_wait_s=600, max_expected_wait_s=900)


@pytest.mark.parametrize(
    ("cfg", "waiting", "staffed", "ewt", "expected"),
    [
        (QUEUE, 0, 2, 0.0, Admission("join", "ok")),
        (QUEUE, 9, 2, 300.0, Admission("join", "ok")),
        (QUEUE, 10, 2, 300.0, Admission("overflow", "full")),
        (
            QUEUE.model_copy(update={"when_full": "refuse"}),
            10,
            2,
            300.0,
            Admission("refuse", "full"),
        ),
        (QUEUE, 3, 2, 901.0, Admission("overflow", "expected_wait")),
        (QUEUE, 3, 2, 900.0, Admission("join", "ok")),
        (QUEUE, 0, 0, None, Admission("overflow", "no_agents")),
        (
            QUEUE.model_copy(update={"when_no_agents": "refuse"}),
            0,
            0,
            None,
            Admission("refuse", "no_agents"),
        ),
        (QUEUE.model_copy(update={"when_no_agents": "join"}), 0, 0, None, Admission("join", "ok")),
        (
            QUEUE.model_copy(update={"when_no_agents": "join"}),
            10,
            0,
            None,
            Admission("overflow", "full"),
        ),
        (QueueConfig(calendar="phone"), 1000, 1, 1e6, Admission("join", "ok")),  # no limits
    ],
)
def test_admit(
    cfg: QueueConfig, waiting: int, staffed: int, ewt: float | None, expected: Admission
) -> None:
    assert admit(cfg, waiting=waiting, staffed=staffed, expected_wait=ewt) == expected


@pytest.mark.parametrize(
    ("cfg", "waited", "staffed", "expected"),
    [
        (QUEUE, 599.9, 2, Admission("stay", "ok")),
        (QUEUE, 600, 2, Admission("overflow", "max_wait")),
        (QUEUE, 10, 0, Admission("overflow", "no_agents")),
        (QUEUE.model_copy(update={"when_no_agents": "join"}), 10, 0, Admission("stay", "ok")),
        (QueueConfig(calendar="phone"), 1e6, 1, Admission("stay", "ok")),
    ],
)
def test_keep_waiting(cfg: QueueConfig, waited: float, staffed: int, expected: Admission) -> None:
    assert keep_waiting(cfg, waited_s=waited, staffed=staffed) == expected


# --- announcements and callbacks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "last", "due_at"),
    [
        (AnnounceConfig(), None, 0),  # on entry
        (AnnounceConfig(), 0, 60),
        (AnnounceConfig(), 70, 130),
        (AnnounceConfig(on_entry=False), None, 60),
        (AnnounceConfig(every_s=None), None, 0),
        (AnnounceConfig(every_s=None), 0, None),
        (AnnounceConfig(position=False, expected_wait=False), None, None),
    ],
)
def test_next_announcement(cfg: AnnounceConfig, last: float | None, due_at: float | None) -> None:
    last_at = None if last is None else at(last)
    expected = None if due_at is None else at(due_at)
    assert next_announcement_at(cfg, T0, last_at) == expected
    if expected is not None:
        assert announcement_due(cfg, T0, last_at, expected)
        assert not announcement_due(cfg, T0, last_at, expected - timedelta(seconds=1))
    else:
        assert not announcement_due(cfg, T0, last_at, at(10_000))


CALLBACK = CallbackConfig(enabled=True, after_s=120, expected_wait_over_s=300)


@pytest.mark.parametrize(
    ("cfg", "open_now", "waited", "ewt", "offered", "eligible"),
    [
        (CALLBACK, True, 0, 100.0, False, False),
        (CALLBACK, True, 120, 100.0, False, True),  # waited long enough
        (CALLBACK, True, 0, 301.0, False, True),  # long expected wait, offered at once
        (CALLBACK, True, 0, 300.0, False, False),
        (CALLBACK, True, 0, None, False, True),  # nobody staffed: the wait is unknown
        (CALLBACK, False, 500, 900.0, False, False),  # outside hours
        (CALLBACK, True, 500, 900.0, True, False),  # never twice
        (CallbackConfig(), True, 500, 900.0, False, False),  # disabled
        (CallbackConfig(enabled=True, after_s=60), True, 59, None, False, False),
        (CallbackConfig(enabled=True, after_s=60), True, 60, None, False, True),
    ],
)
def test_callback_eligible(
    cfg: CallbackConfig,
    open_now: bool,
    waited: float,
    ewt: float | None,
    offered: bool,
    eligible: bool,
) -> None:
    result = callback_eligible(
        cfg, open_now=open_now, waited_s=waited, expected_wait=ewt, already_offered=offered
    )
    assert result is eligible

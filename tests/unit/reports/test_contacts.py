"""One call's trail reduced to what the reports count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.reports.contacts import CallRow, TrailItem, contact_of

pytestmark = pytest.mark.unit

T0 = datetime(2027, 3, 15, 14, 59, 50, tzinfo=UTC)  # 23:59:50 in Tokyo


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def item(kind: str, seconds: float, **data: str) -> TrailItem:
    return TrailItem(kind, at(seconds), data)


def test_the_console_s_wrap_up_code_classifies_the_call() -> None:
    trail = [
        item("entered_ivr", 0),
        item("enqueued", 5, queue="moving", agent=""),
        item("answered", 25, queue="moving", agent="agent1"),
        item("call_ended", 145, queue="moving", agent="agent1", detail="caller"),
        item("ended", 146),
        # written after the call ended, by the agent's wrap-up form
        item("wrap_up", 170, queue="moving", agent="agent1", reason="move_in_city", notes="x"),
    ]
    call = CallRow("c1", T0, at(146), "answered_by_agent", 7)
    contact = contact_of(call, trail, lambda _at, _q: True, wrap_s=24)
    assert (contact.queue, contact.outcome, contact.agent) == ("moving", "answered", "agent1")
    assert (contact.wait_s, contact.talk_s, contact.wrap_s) == (20.0, 120.0, 24.0)
    assert contact.wrap_reason == "move_in_city"
    # started 23:59:50 in Tokyo: that day, whatever UTC says
    assert (contact.day, contact.minute) == ("2027-03-15", 23 * 60 + 59)


def test_a_call_re_adopted_after_a_restart_waits_from_its_first_enqueue() -> None:
    trail = [
        item("enqueued", 5, queue="general", agent=""),
        item("detached", 20),
        item("rejoined", 30, queue="general", agent=""),
        item("answered", 50, queue="general", agent="agent2"),
        item("call_ended", 170, queue="general", agent="agent2"),
        item("ended", 171),
    ]
    contact = contact_of(CallRow("c2", T0, at(171), None, None), trail, lambda _at, _q: True)
    assert (contact.outcome, contact.wait_s, contact.talk_s) == ("answered", 45.0, 120.0)
    assert contact.ended


def test_a_transfer_s_closed_calendar_is_not_a_queue_outcome() -> None:
    trail = [
        item("enqueued", 5, queue="general", agent=""),
        item("abandoned", 12, queue="general", agent=""),
        item("closed", 14, department="construction"),
    ]
    contact = contact_of(CallRow("c3", T0, at(15), None, None), trail, lambda _at, _q: False)
    assert (contact.outcome, contact.wait_s) == ("abandoned", 7.0)
    assert contact.closed
    assert not contact.in_hours


def test_a_call_the_engine_never_saw_end_is_unfinished() -> None:
    trail = [item("enqueued", 5, queue="general", agent="")]
    contact = contact_of(CallRow("c4", T0, None, None, None), trail, lambda _at, _q: True)
    assert contact.outcome == "unfinished"
    assert not contact.ended


def test_a_caller_moved_to_another_queue_waits_from_the_first_enqueue() -> None:
    # a supervisor moves the caller from general to moving after 40 s; answered 30 s later
    trail = [
        item("enqueued", 5, queue="general", agent="", detail="0"),
        item("moved", 45, queue="general", agent="", detail="moving"),
        item("enqueued", 45, queue="moving", agent="", detail="0"),
        item("answered", 75, queue="moving", agent="agent3"),
        item("call_ended", 135, queue="moving", agent="agent3", detail="caller"),
        item("ended", 136),
    ]
    contact = contact_of(CallRow("m1", T0, at(136), None, None), trail, lambda _at, _q: True)
    assert (contact.queue, contact.outcome, contact.agent) == ("moving", "answered", "agent3")
    assert (contact.wait_s, contact.talk_s) == (70.0, 60.0)


def test_a_moved_caller_who_hangs_up_abandons_after_the_whole_wait() -> None:
    trail = [
        item("enqueued", 0, queue="general", agent=""),
        item("moved", 50, queue="general", agent="", detail="moving"),
        item("enqueued", 50, queue="moving", agent=""),
        item("abandoned", 58, queue="moving", agent=""),
    ]
    contact = contact_of(CallRow("m2", T0, at(58), None, None), trail, lambda _at, _q: True)
    # 58 s in all: not a short abandon, though only 8 s in the second queue
    assert (contact.queue, contact.outcome, contact.wait_s) == ("moving", "abandoned", 58.0)


def test_a_call_an_agent_hands_on_to_another_queue_stays_where_it_was_answered() -> None:
    trail = [
        item("enqueued", 0, queue="general", agent=""),
        item("answered", 12, queue="general", agent="agent1"),
        item("call_ended", 72, queue="general", agent="agent1", detail="transferred"),
        item("transferred", 72, queue="general", agent="agent1", detail="queue:moving"),
        item("enqueued", 72, queue="moving", agent=""),
        item("answered", 100, queue="moving", agent="agent2"),
        item("call_ended", 200, queue="moving", agent="agent2", detail="caller"),
        item("ended", 201),
    ]
    contact = contact_of(CallRow("t1", T0, at(201), None, None), trail, lambda _at, _q: True)
    # was: counted in `moving`, answered with a wait of 0 s (the second enqueue after the
    # first answer), agent1's talk running to agent2's hang-up
    assert (contact.queue, contact.outcome, contact.agent) == ("general", "answered", "agent1")
    assert (contact.wait_s, contact.talk_s) == (12.0, 60.0)


def test_within_hours_is_asked_of_the_queue_the_call_is_counted_in() -> None:
    asked: list[str | None] = []

    def hours(_at: datetime, queue: str | None) -> bool:
        asked.append(queue)
        return queue == "night"

    queued = [item("enqueued", 1, queue="night", agent=""), item("abandoned", 9, queue="night")]
    assert contact_of(CallRow("h1", T0, at(9), None, None), queued, hours).in_hours
    unqueued = [item("intake_created", 30, node="stop_confirm")]
    assert not contact_of(CallRow("h2", T0, at(40), None, None), unqueued, hours).in_hours
    assert asked == ["night", None]


def test_hold_time_is_counted_apart_from_talk_time() -> None:
    # answered at 25, held 40 → 85 and 100 → 112, the caller hangs up at 145: 120 s with the
    # agent = 63 s talk + 57 s hold (45 + 12), then 24 s wrap-up: 144 s handled
    trail = [
        item("enqueued", 5, queue="general", agent=""),
        item("answered", 25, queue="general", agent="agent1"),
        item("hold_started", 40, queue="general", agent="agent1"),
        item("hold_ended", 85, queue="general", agent="agent1"),
        item("hold_started", 100, queue="general", agent="agent1"),
        item("hold_ended", 112, queue="general", agent="agent1"),
        item("call_ended", 145, queue="general", agent="agent1", detail="caller"),
        item("ended", 146),
    ]
    contact = contact_of(CallRow("c1", T0, at(146), None, None), trail, lambda _a, _q: True, 24)
    assert (contact.talk_s, contact.hold_s, contact.wrap_s) == (63.0, 57.0, 24.0)
    assert contact.talk_s + contact.hold_s + contact.wrap_s == 144.0


def test_a_hold_the_trail_never_closed_lasts_until_the_talk_ended() -> None:
    # the engine went away while the caller was held; the next one saw the call end at 90
    trail = [
        item("enqueued", 5, queue="general", agent=""),
        item("answered", 10, queue="general", agent="agent1"),
        item("hold_started", 30, queue="general", agent="agent1"),
        item("detached", 50),
        item("call_ended", 90, queue="general", agent="agent1", detail="caller"),
    ]
    contact = contact_of(CallRow("c1", T0, at(91), None, None), trail, lambda _a, _q: True)
    assert (contact.talk_s, contact.hold_s) == (20.0, 60.0)

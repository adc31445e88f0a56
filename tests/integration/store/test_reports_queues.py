"""Reports by queue against a hand-computed trail (SQLite and PostgreSQL): within or outside
opening hours by each queue's own calendar, and a caller a supervisor moved to another queue.

Monday 2027-03-15 in Tokyo (the moving season; the hotline's phone hours 08:30–19:00). Queues:
`general` on the phone hours, `night` on the 24 h calendar, `works` on the construction
department's (08:30–17:15 on weekdays). Answer threshold T = 20 s.

  call  start     queue                   what                          within hours by
  q1    20:00:00  night                   answered after 15 s           night: yes
  q2    20:10:00  general                 the queue is closed           phone: no
  q3    20:20:00  (none)                  a stop keyed in the IVR       reports.calendar: no
  q4    18:00:00  works                   abandoned after 8 s           construction: no
  q5    18:30:00  (none)                  hung up in the menu           reports.calendar: yes
  g1    20:30:00  old (no longer in       answered after 5 s            reports.calendar: no
                  config.yaml)
  m1    10:00:00  general, moved to       queued 10:00:10, moved at     night: yes
                  night                   10:00:50, answered 10:01:00:
                                          waited 50 s (10 s in night)
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.reports.queries import ReportSpec, build_report
from ivr.reports.rollup import refresh
from ivr.store.calls import CallLog
from ivr.store.tables import report_contacts
from routing.config import RoutingConfig
from routing.hours import call_hours
from tests.integration.store.test_reports import DAY, Trail, at, plus

pytestmark = pytest.mark.integration

NOW = datetime(2027, 3, 16, 9, 0, tzinfo=UTC)
ROUTING = RoutingConfig.model_validate(
    {
        "queues": {
            "general": {"calendar": "phone"},
            "night": {"calendar": "emergency"},
            "works": {"calendar": "construction"},
        }
    }
)
HOURS = call_hours(ROUTING, "phone")


def answered(t: Trail, call: str, start: datetime, queue: str, wait: float) -> None:
    t.open(call, start)
    enq = plus(start, 10)
    t.event(call, "enqueued", enq, queue=queue, agent="", detail="0")
    t.event(call, "answered", plus(enq, wait), queue=queue, agent="agent1")
    t.event(call, "call_ended", plus(enq, wait + 60), queue=queue, agent="agent1")
    t.close(call, plus(enq, wait + 61), "answered_by_agent", start)


def trail() -> Trail:
    t = Trail()
    answered(t, "q1", at("20:00:00"), "night", 15)
    t.open("q2", at("20:10:00"))
    t.event("q2", "enqueued", at("20:10:10"), queue="general", agent="")
    t.event("q2", "closed", at("20:10:10"), queue="general", agent="")
    t.close("q2", at("20:10:30"), "completed", at("20:10:00"))
    t.open("q3", at("20:20:00"))
    t.event("q3", "intake_created", at("20:22:00"), kind="stop", node="stop_confirm")
    t.close("q3", at("20:22:30"), "completed", at("20:20:00"))
    t.open("q4", at("18:00:00"))
    t.event("q4", "enqueued", at("18:00:10"), queue="works", agent="")
    t.event("q4", "abandoned", at("18:00:18"), queue="works", agent="")
    t.close("q4", at("18:00:18"), "abandoned_in_queue", at("18:00:00"))
    t.open("q5", at("18:30:00"))
    t.close("q5", at("18:30:20"), "caller_hung_up", at("18:30:00"))
    answered(t, "g1", at("20:30:00"), "old", 5)
    # the move, as routing.queues.service writes it: `moved` in the queue left, then
    # `enqueued` in the other
    t.open("m1", at("10:00:00"))
    t.event("m1", "enqueued", at("10:00:10"), queue="general", agent="", detail="0")
    t.event("m1", "moved", at("10:00:50"), queue="general", agent="", detail="night")
    t.event("m1", "enqueued", at("10:00:50"), queue="night", agent="", detail="0")
    t.event("m1", "answered", at("10:01:00"), queue="night", agent="agent2")
    t.event("m1", "call_ended", at("10:03:00"), queue="night", agent="agent2")
    t.close("m1", at("10:03:01"), "answered_by_agent", at("10:00:00"))
    return t


async def write(engine: AsyncEngine) -> None:
    await CallLog(engine).append_many(trail().entries)
    await refresh(engine, HOURS, NOW)


async def test_each_queue_s_calendar_says_within_hours(engine: AsyncEngine) -> None:
    await write(engine)
    c = report_contacts.c
    async with engine.connect() as conn:
        rows = dict((await conn.execute(sa.select(c.call_id, c.in_hours))).all())
    assert rows == {
        "q1": True,
        "q2": False,
        "q3": False,
        "q4": False,
        "q5": True,
        "g1": False,
        "m1": True,
    }
    inside = await build_report(engine, ReportSpec(DAY, DAY, "day", hours="in"), NOW)
    outside = await build_report(engine, ReportSpec(DAY, DAY, "day", hours="out"), NOW)
    assert (inside.calls.calls, outside.calls.calls) == (3, 4)
    assert sorted(inside.queues) == ["night"]
    assert sorted(outside.queues) == ["general", "old", "works"]
    assert outside.queues["works"].abandoned == 1


async def test_a_moved_caller_s_wait_runs_from_the_first_enqueue(engine: AsyncEngine) -> None:
    await write(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY, "day", hours="in"), NOW)
    night = report.queues["night"]
    # q1 waited 15 s, m1 50 s (not the 10 s since the move): one of two within 20 s
    assert (night.queued, night.answered, night.answered_within) == (2, 2, 1)
    assert night.asa_s == pytest.approx((15 + 50) / 2)
    assert night.longest_wait_s == pytest.approx(50)
    # counted once, in the queue that answered it
    assert "general" not in report.queues

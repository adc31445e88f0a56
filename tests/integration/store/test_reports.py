"""Report numbers against a hand-computed trail (SQLite and PostgreSQL): one Monday of the
moving season, 2027-03-15 in Tokyo, written through the engine's own trail writers (`CallLog`,
`PresenceStore`), rolled up, and reported.

The queue `general`, answer threshold T = 20 s, short abandons under 6 s:

  call         enqueued  outcome                wait   agent   talk  wrap
  c01 10:00:30 answered                           15   agent1   180    30
  c02 10:10:10 answered                           60   agent2   120    20   (account 1 again)
  c03 11:00:05 abandoned                          30
  c04 11:30:05 abandoned (short)                   3
  c05 11:40:05 abandoned                          10
  c06 12:00:10 callback requested, completed      60             (cb06: agent2, 120 s)
  c08 13:00:10 callback requested, failed later   30
  c12 16:00:05 detached 16:00:20, rejoined, answered 16:00:50   45  agent2  120  10

  c09 self-served stop in the IVR; c10 transferred to construction; c11 20:00 closed;
  m1 23:59:50 closed (the 15th), m2 00:00:10 (the 16th in Tokyo, the same UTC day)

So Q = 8, S = 1, A = 3, A_T = 1, B = 2, B_T = 1, F = 2, O = 7.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import normalise_caller_id
from ivr.reports.contacts import one_calendar
from ivr.reports.queries import TOTAL, ReportSpec, build_report
from ivr.reports.rollup import Thresholds, refresh
from ivr.store.calls import AccountMatched, CallClosed, CallLog, CallOpened, TrailEntry, TrailEvent
from ivr.store.presence import AgentEntry, PresenceStore
from ivr.store.staff import NewStaff, Role, StaffStore
from ivr.store.tables import report_contacts, service_requests
from routing.hours import DEFAULT_CALENDARS, calendars_from_config
from tests.integration.store.storedata import cust, seed

pytestmark = pytest.mark.integration

DAY = date(2027, 3, 15)
PHONE = calendars_from_config(DEFAULT_CALENDARS)["phone"]
HOURS = one_calendar(PHONE.is_open)
CALLER = "0935821234"
# the report is made the next morning
NOW = datetime(2027, 3, 16, 9, 0, tzinfo=UTC)


def at(hms: str, day: date = DAY) -> datetime:
    local = datetime.fromisoformat(f"{day.isoformat()}T{hms}+09:00")
    return local.astimezone(UTC)


def plus(t: datetime, seconds: float) -> datetime:
    return t + timedelta(seconds=seconds)


class Trail:
    """Trail entries in the order the engine hands them over."""

    def __init__(self) -> None:
        self.entries: list[TrailEntry] = []

    def open(self, call: str, t: datetime, caller: str = CALLER) -> None:
        self.entries.append(CallOpened(call, normalise_caller_id(caller), t))

    def event(self, call: str, what: str, t: datetime, **data: str) -> None:
        self.entries.append(TrailEvent(call, what, t, data))

    def queue(self, call: str, what: str, t: datetime, agent: str = "", **data: str) -> None:
        self.event(call, what, t, queue="general", agent=agent, **data)

    def close(
        self, call: str, t: datetime, reason: str, started: datetime, ended: bool = True
    ) -> None:
        caller = normalise_caller_id(CALLER)
        self.entries.append(CallClosed(call, t, ended, reason, caller, started))

    def answered_call(
        self, call: str, start: datetime, wait: float, talk: float, agent: str, account: int = 0
    ) -> None:
        self.open(call, start)
        if account:
            self.entries.append(AccountMatched(call, cust(account), "caller_id", plus(start, 5)))
        enq = plus(start, 10)
        self.event(call, "to_queue", enq, queue="general")
        self.queue(call, "enqueued", enq, detail="0")
        self.queue(call, "offered", plus(enq, wait - 5), agent)
        self.queue(call, "answered", plus(enq, wait), agent)
        self.queue(call, "call_ended", plus(enq, wait + talk), detail="caller")
        self.close(call, plus(enq, wait + talk + 1), "answered_by_agent", start)

    def abandoned_call(self, call: str, start: datetime, wait: float, caller: str) -> None:
        self.open(call, start, caller)
        enq = plus(start, 5)
        self.queue(call, "enqueued", enq)
        self.queue(call, "abandoned", plus(enq, wait))
        self.close(call, plus(enq, wait), "abandoned_in_queue", start)

    def callback_call(self, call: str, start: datetime, wait: float) -> None:
        self.open(call, start)
        enq = plus(start, 10)
        self.queue(call, "enqueued", enq)
        self.queue(call, "callback_offered", plus(enq, wait - 10), detail="300")
        self.queue(call, "callback_scheduled", plus(enq, wait))
        self.close(call, plus(enq, wait + 5), "callback_scheduled", start)

    def closed_call(self, call: str, start: datetime) -> None:
        self.open(call, start)
        self.event(call, "hours", plus(start, 2), calendar="phone", state="closed")
        self.close(call, plus(start, 30), "completed", start)


def day_trail() -> tuple[Trail, Trail]:
    """The day's trail, and what comes after the first roll-up (a late callback failure, the
    re-adopted call's second engine)."""
    t = Trail()
    t.answered_call("c01", at("10:00:20"), wait=15, talk=180, agent="agent1", account=1)
    t.answered_call("c02", at("10:10:00"), wait=60, talk=120, agent="agent2", account=1)
    t.abandoned_call("c03", at("11:00:00"), 30, "0935550101")
    t.abandoned_call("c04", at("11:30:00"), 3, "0935550102")
    t.abandoned_call("c05", at("11:40:00"), 10, "0935550103")
    t.callback_call("c06", at("12:00:00"), wait=60)
    t.queue("c06", "callback_dialing", at("12:30:00"))
    # the callback call: a new channel that greets the caller and waits for the next agent
    t.open("cb06", at("12:30:05"))
    t.queue("cb06", "callback_answered", at("12:30:05"), detail="c06")
    t.queue("cb06", "answered", at("12:30:15"), "agent2")
    t.queue("cb06", "call_ended", at("12:32:15"), detail="caller")
    t.close("cb06", at("12:32:16"), "callback_answered_by_agent", at("12:30:05"))
    t.callback_call("c08", at("13:00:00"), wait=30)
    t.queue("c08", "callback_dialing", at("13:20:00"))
    # self-service: a stop keyed in the IVR
    t.open("c09", at("14:00:00"))
    t.entries.append(AccountMatched("c09", cust(2), "caller_id", at("14:00:03")))
    t.event("c09", "intake_created", at("14:02:00"), kind="stop", node="stop_confirm")
    t.close("c09", at("14:02:30"), "completed", at("14:00:00"))
    # a transfer to the construction department
    t.open("c10", at("15:00:00"))
    t.event("c10", "to_department", at("15:00:20"), department="construction", node="x")
    t.event("c10", "transfer_blind", at("15:00:21"), department="construction")
    t.event("c10", "transfer_connected", at("15:00:30"), department="construction")
    t.close("c10", at("15:00:31"), "handed_over", at("15:00:00"))
    t.closed_call("c11", at("20:00:00"))
    t.closed_call("m1", at("23:59:50"))
    t.closed_call("m2", at("00:00:10", DAY + timedelta(days=1)))
    # an engine restart while c12 waits: the first engine leaves it in Asterisk
    t.open("c12", at("16:00:00"))
    t.queue("c12", "enqueued", at("16:00:05"))
    t.close("c12", at("16:00:20"), "detached", at("16:00:00"), ended=False)
    later = Trail()
    later.open("c12", at("16:00:25"))  # the next engine re-adopts it
    later.queue("c12", "rejoined", at("16:00:30"))
    later.queue("c12", "offered", at("16:00:45"), "agent2")
    later.queue("c12", "answered", at("16:00:50"), "agent2")
    later.queue("c12", "call_ended", at("16:02:50"), detail="agent")
    later.close("c12", at("16:02:51"), "answered_by_agent", at("16:00:00"))
    later.queue("c08", "callback_failed", at("13:21:00"), detail="no answer")
    return t, later


def agent(login: str, t: datetime, before: str, status: str, **kw: Any) -> AgentEntry:
    return AgentEntry(login, t, "x", before, status, kw.get("reason"), kw.get("call"))


AGENT_TRAIL = [
    agent("agent1", at("09:00:00"), "logged_out", "ready"),
    agent("agent2", at("09:00:00"), "logged_out", "ready"),
    agent("agent1", at("10:00:40"), "ready", "offered", call="c01"),
    agent("agent1", at("10:00:45"), "offered", "on_call", call="c01"),
    agent("agent1", at("10:03:45"), "on_call", "wrap_up", call="c01"),
    agent("agent1", at("10:04:15"), "wrap_up", "ready"),
    agent("agent2", at("10:11:10"), "ready", "on_call", call="c02"),
    agent("agent2", at("10:13:10"), "on_call", "wrap_up", call="c02"),
    agent("agent2", at("10:13:30"), "wrap_up", "ready"),
    agent("agent1", at("12:00:00"), "ready", "paused", reason="lunch"),
    agent("agent1", at("13:00:00"), "paused", "ready"),
    agent("agent2", at("16:00:50"), "ready", "on_call", call="c12"),
    agent("agent2", at("16:02:50"), "on_call", "wrap_up", call="c12"),
    agent("agent2", at("16:03:00"), "wrap_up", "ready"),
    agent("agent1", at("19:00:00"), "ready", "logged_out"),
    agent("agent2", at("19:00:00"), "ready", "logged_out"),
    # the night shift across midnight: an hour on each Tokyo day
    agent("agent3", at("23:00:00"), "logged_out", "ready"),
    agent("agent3", at("01:00:00", DAY + timedelta(days=1)), "ready", "logged_out"),
]


async def requests(engine: AsyncEngine) -> None:
    def row(kind: str, channel: str, hms: str, call: str | None = None) -> dict[str, Any]:
        return {
            "kind": kind,
            "status": "accepted",
            "fields": {},
            "channel": channel,
            "actor": channel,
            "call_id": call,
            "created_at": at(hms),
        }

    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(service_requests),
            [
                row("stop", "ivr", "14:02:00", "c09"),
                row("start", "agent", "10:02:00", "c01"),
                row("transfer_stop", "web", "18:00:00"),
                row("transfer_start", "web", "18:00:00"),
            ],
        )


async def write_day(engine: AsyncEngine) -> None:
    """The whole day in the database and rolled up, with a roll-up in the middle (while c12
    is detached and before c08's callback fails)."""
    await seed(engine)
    staff = StaffStore(engine)
    for login in ("agent1", "agent2", "agent3"):
        member = NewStaff(login, login, Role.AGENT, f"PJSIP/{login}", ("billing",))
        await staff.add(member, "hash", at("08:00:00"))
    first, later = day_trail()
    await CallLog(engine).append_many(first.entries)
    await PresenceStore(engine).append(AGENT_TRAIL[:8], NOW)
    await refresh(engine, HOURS, at("16:01:00"))
    await CallLog(engine).append_many(later.entries)
    await PresenceStore(engine).append(AGENT_TRAIL[8:], NOW)
    await requests(engine)
    await refresh(engine, HOURS, NOW)


async def test_the_day_adds_up(engine: AsyncEngine) -> None:
    await write_day(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY, "day"), NOW)
    day = report.intervals[("2027-03-15", "general")]
    assert report.intervals[("2027-03-15", TOTAL)] == day
    assert (day.queued, day.short_abandons, day.offered) == (8, 1, 7)
    assert (day.answered, day.answered_within) == (3, 1)
    assert (day.abandoned, day.abandoned_within, day.callbacks) == (2, 1, 2)
    levels = day.service_levels()
    assert levels == pytest.approx(
        {
            "answered_only": 1 / 3,
            "abandons_ignored": 1 / 4,
            "abandons_against": 1 / 5,
            "abandons_in_favour": 2 / 5,
            "of_offered": 1 / 7,
        }
    )
    # ASA (15 + 60 + 45) / 3; AHT (180 + 120 + 120 talk, 30 + 20 + 10 wrap-up) / 3
    assert day.asa_s == pytest.approx(40)
    assert day.aht_s == pytest.approx(160)
    assert day.longest_wait_s == pytest.approx(60)
    assert day.abandon_rate == pytest.approx(2 / 7)


async def test_calls_callbacks_transfers_and_self_service(engine: AsyncEngine) -> None:
    await write_day(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY, "day"), NOW)
    calls = report.calls
    # c01–c12, cb06 and m1; m2 belongs to the 16th in Tokyo
    assert calls.calls == 13
    assert (calls.in_hours, calls.while_closed) == (11, 2)
    assert (calls.ivr_completed, calls.transferred) == (1, 1)
    assert calls.callbacks_requested == 2
    assert calls.callbacks_dialled == 2
    assert calls.callbacks_completed == 1
    assert calls.callbacks_failed == 1
    assert report.departments == {"construction": (1, 1)}
    assert report.request_kinds == {
        ("start", "agent"): 1,
        ("stop", "ivr"): 1,
        ("transfer", "web"): 1,
    }
    assert report.self_service_rate == pytest.approx(0.5)
    assert report.outcomes["abandoned_in_queue"] == 3
    # c02 is account 1's second call that day; c01 and c09 are first contacts
    assert (report.repeats.identified, report.repeats.repeats, report.repeats.accounts) == (3, 1, 2)


async def test_the_list_of_abandoned_calls(engine: AsyncEngine) -> None:
    await write_day(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY, "day"), NOW)
    listed = [(a.at.strftime("%H:%M:%S"), a.wait_s, a.short, a.caller) for a in report.abandons]
    assert listed == [
        ("11:00:00", 30.0, False, "+81935550101"),
        ("11:30:00", 3.0, True, "+81935550102"),
        ("11:40:00", 10.0, False, "+81935550103"),
    ]


async def test_the_re_adopted_call_counts_once(engine: AsyncEngine) -> None:
    await write_day(engine)
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.select(report_contacts).where(report_contacts.c.call_id == "c12"))
        ).one()
    assert (row.outcome, row.wait_s, row.agent, row.talk_s) == ("answered", 45.0, "agent2", 120.0)


async def test_hourly_intervals_and_the_tokyo_midnight(engine: AsyncEngine) -> None:
    await write_day(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY, "60"), NOW)
    offered = {label: f.offered for (label, q), f in report.intervals.items() if q == TOTAL}
    assert offered == {
        "2027-03-15 10:00": 2,
        "2027-03-15 11:00": 2,
        "2027-03-15 12:00": 1,
        "2027-03-15 13:00": 1,
        "2027-03-15 16:00": 1,
    }
    assert report.call_intervals["2027-03-15 23:00"].calls == 1
    next_day = await build_report(
        engine, ReportSpec(DAY + timedelta(days=1), DAY + timedelta(days=1)), NOW
    )
    assert next_day.calls.calls == 1
    assert next_day.calls.while_closed == 1


async def test_outside_opening_hours_only(engine: AsyncEngine) -> None:
    await write_day(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY, hours="out"), NOW)
    assert report.calls.calls == 2
    assert report.total.queued == 0


async def test_per_agent(engine: AsyncEngine) -> None:
    await write_day(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY), NOW)
    a1, a2, a3 = (report.agents[n] for n in ("agent1", "agent2", "agent3"))
    assert (a1.handled, a1.talk_s, a1.wrap_s) == (1, 180.0, 30.0)
    assert a1.aht_s == pytest.approx(210)
    # c02, the callback call and c12
    assert (a2.handled, a2.talk_s, a2.wrap_s) == (3, 360.0, 30.0)
    assert a1.state_s["paused: lunch"] == pytest.approx(3600)
    # 09:00–10:00:40, 10:04:15–12:00, 13:00–19:00
    assert a1.state_s["ready"] == pytest.approx(3640 + 6945 + 21600)
    # the night shift is cut at midnight: one hour on each day
    assert a3.state_s["ready"] == pytest.approx(3600)


async def test_a_second_refresh_changes_nothing(engine: AsyncEngine) -> None:
    await write_day(engine)
    before = await build_report(engine, ReportSpec(DAY, DAY), NOW)
    again = await refresh(engine, HOURS, NOW)
    assert (again.calls, again.agent_events) == (0, 0)
    after = await build_report(engine, ReportSpec(DAY, DAY), NOW)
    assert after.total == before.total
    assert after.agents == before.agents


async def test_other_thresholds_count_from_the_contacts_and_after_a_refresh_alike(
    engine: AsyncEngine,
) -> None:
    await write_day(engine)
    # T = 30 s: c03's 30 s abandon is now within T (the quarter-hour sums are for 20 s)
    spec = ReportSpec(DAY, DAY, answer_s=30, short_abandon_s=6)
    direct = await build_report(engine, spec, NOW)
    assert (direct.total.answered_within, direct.total.abandoned_within) == (1, 2)
    await refresh(engine, HOURS, NOW, thresholds=Thresholds(30, 6))
    summed = await build_report(engine, spec, NOW)
    assert summed.total == direct.total
    assert summed.intervals == direct.intervals
    assert summed.calls == direct.calls


async def test_a_long_list_of_abandoned_calls_keeps_the_newest(engine: AsyncEngine) -> None:
    await write_day(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY, abandoned_max=2), NOW)
    assert [a.at.strftime("%H:%M") for a in report.abandons] == ["11:30", "11:40"]
    assert report.abandons_not_listed == 1


async def test_hold_time_is_in_the_aht_and_in_the_agents_figures(engine: AsyncEngine) -> None:
    # answered 10:00:25, held 10:01:00 → 10:01:45 (45 s), the caller hangs up 10:03:25 (180 s
    # with the agent: 135 s talk + 45 s hold), wrap-up until 10:03:45 (20 s): AHT 200 s
    await seed(engine)
    member = NewStaff("agent1", "agent1", Role.AGENT, "PJSIP/agent1", ())
    await StaffStore(engine).add(member, "hash", at("08:00:00"))
    t = Trail()
    t.open("c21", at("10:00:00"))
    t.event("c21", "to_queue", at("10:00:10"), queue="general")
    t.queue("c21", "enqueued", at("10:00:10"), detail="0")
    t.queue("c21", "offered", at("10:00:20"), "agent1")
    t.queue("c21", "answered", at("10:00:25"), "agent1")
    t.queue("c21", "hold_started", at("10:01:00"), "agent1")
    t.queue("c21", "hold_ended", at("10:01:45"), "agent1")
    t.queue("c21", "call_ended", at("10:03:25"), "agent1", detail="caller")
    t.close("c21", at("10:03:26"), "answered_by_agent", at("10:00:00"))
    await CallLog(engine).append_many(t.entries)
    presence = [
        agent("agent1", at("09:00:00"), "logged_out", "ready"),
        agent("agent1", at("10:00:20"), "ready", "offered", call="c21"),
        agent("agent1", at("10:00:25"), "offered", "on_call", call="c21"),
        agent("agent1", at("10:03:25"), "on_call", "wrap_up", call="c21"),
        agent("agent1", at("10:03:45"), "wrap_up", "ready"),
    ]
    await PresenceStore(engine).append(presence, NOW)
    await refresh(engine, HOURS, NOW)
    report = await build_report(engine, ReportSpec(DAY, DAY, "day"), NOW)
    day = report.intervals[("2027-03-15", "general")]
    assert day.answered == 1
    assert day.aht_s == pytest.approx(200)
    a1 = report.agents["agent1"]
    assert (a1.handled, a1.talk_s, a1.hold_s, a1.wrap_s) == (1, 135.0, 45.0, 20.0)
    assert a1.aht_s == pytest.approx(200)

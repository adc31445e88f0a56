"""The report per queue and per interval against the hand-computed day of `test_reports`
(SQLite and PostgreSQL), with one more call: x1 at 17:00 in the queue `billing`, a callback
requested after 40 s, never dialled.

So all queues: calls 14, callbacks requested 3; `general` alone: its 9 calls (c01–c06, cb06,
c08, c12), callbacks requested 2, completed 1, failed 1, nothing closed, transferred or served
in the IVR (those calls reached no queue); `billing`: 1 call, 1 callback requested.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.reports.queries import TOTAL, CallFigures, Report, ReportSpec, build_report
from ivr.reports.render import to_csv, to_html, to_json
from ivr.reports.rollup import refresh
from ivr.store.calls import AccountMatched, CallLog
from tests.integration.store.storedata import cust
from tests.integration.store.test_reports import DAY, HOURS, NOW, Trail, at, plus, write_day

pytestmark = pytest.mark.integration

GENERAL = CallFigures(
    calls=9,
    in_hours=9,
    callbacks_requested=2,
    callbacks_dialled=2,
    callbacks_completed=1,
    callbacks_failed=1,
)
BILLING = CallFigures(calls=1, in_hours=1, callbacks_requested=1)


async def write_two_queues(engine: AsyncEngine) -> None:
    await write_day(engine)
    t = Trail()
    start = at("17:00:00")
    t.open("x1", start)
    enq = plus(start, 5)
    t.event("x1", "enqueued", enq, queue="billing", agent="", detail="0")
    t.event("x1", "callback_offered", plus(enq, 30), queue="billing", agent="", detail="300")
    t.event("x1", "callback_scheduled", plus(enq, 40), queue="billing", agent="")
    t.close("x1", plus(enq, 45), "callback_scheduled", start)
    await CallLog(engine).append_many(t.entries)
    await refresh(engine, HOURS, NOW)


async def test_call_figures_per_queue(engine: AsyncEngine) -> None:
    await write_two_queues(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY), NOW)
    assert report.calls.calls == 14
    assert report.calls.callbacks_requested == 3
    assert report.queue_calls == {"billing": BILLING, "general": GENERAL}
    # the queue part: x1 is billing's one offered call, a flow-out
    billing = report.queues["billing"]
    assert (billing.offered, billing.answered, billing.callbacks) == (1, 0, 1)
    assert billing.longest_wait_s == pytest.approx(40)


async def test_a_one_queue_report_counts_that_queue_s_calls_only(engine: AsyncEngine) -> None:
    await write_two_queues(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY, queue="general"), NOW)
    assert report.calls == GENERAL
    assert report.queue_calls == {"general": GENERAL}
    assert list(report.queues) == ["general"]
    assert report.total.offered == 7
    assert sum(f.calls for f in report.call_intervals.values()) == 9
    # reasons, departments and agents' calls of general's contacts only: c09 (IVR), c10
    # (construction), c11/m1 (closed) and x1 (billing) reached no queue or another one
    assert report.outcomes == {
        "abandoned_in_queue": 3,
        "answered_by_agent": 3,
        "callback_scheduled": 2,
        "callback_answered_by_agent": 1,
    }
    assert report.departments == {}
    handled = {login: (a.handled, a.talk_s, a.wrap_s) for login, a in report.agents.items()}
    assert handled["agent1"] == (1, 180.0, 30.0)
    assert handled["agent2"] == (3, 360.0, 30.0)
    # an agent's time is not a queue's: all of it, as in the all-queue report
    assert report.agents["agent1"].state_s["paused: lunch"] == pytest.approx(3600)
    billing = await build_report(engine, ReportSpec(DAY, DAY, queue="billing"), NOW)
    assert billing.outcomes == {"callback_scheduled": 1}
    assert all(a.handled == 0 for a in billing.agents.values())
    assert "are of all queues" in to_html(report)
    assert "are of all queues" not in to_html(await build_report(engine, ReportSpec(DAY, DAY), NOW))


async def test_half_hours_quarter_hours_and_the_month(engine: AsyncEngine) -> None:
    await write_two_queues(engine)
    for interval in ("15", "30"):
        report = await build_report(engine, ReportSpec(DAY, DAY, interval), NOW)
        queued = {
            label[11:]: (f.queued, f.offered)
            for (label, q), f in report.intervals.items()
            if q == TOTAL
        }
        # c01 10:00 and c02 10:10; c03 11:00; c04 (short) and c05 11:30–11:40; c06, c08, c12, x1
        assert queued == {
            "10:00": (2, 2),
            "11:00": (1, 1),
            "11:30": (2, 1),
            "12:00": (1, 1),
            "13:00": (1, 1),
            "16:00": (1, 1),
            "17:00": (1, 1),
        }, interval
        assert report.call_intervals["2027-03-15 17:00"] == BILLING
    month = await build_report(engine, ReportSpec(DAY, DAY + timedelta(days=1), "month"), NOW)
    assert list(month.call_intervals) == ["2027-03"]
    # m2, closed at 00:00:10 on the 16th, joins the month
    assert month.call_intervals["2027-03"].calls == 15
    assert month.call_intervals["2027-03"].while_closed == 3
    assert month.intervals[("2027-03", "general")].offered == 7
    assert month.intervals[("2027-03", TOTAL)].offered == 8


def _cells(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</table>", start)]


async def test_the_html_shows_every_service_level_and_the_calls_per_queue(
    engine: AsyncEngine,
) -> None:
    await write_two_queues(engine)
    report: Report = await build_report(engine, ReportSpec(DAY, DAY), NOW)
    html = to_html(report)
    levels = _cells(html, "service-levels")
    # general: A_T / (A + B) = 1 / 5, the headline; billing has no answers nor abandons
    assert "<th>billing</th><th>general</th><th>total</th>" in levels
    assert "A_T / (A + B)</td><td></td><td>20.0 %</td><td>20.0 %</td>" in levels
    # of offered A_T / O: general 1 / 7, the total 1 / 8
    assert "A_T / O</td><td>0.0 %</td><td>14.3 %</td><td>12.5 %</td>" in levels
    by_queue = _cells(html, "calls-by-queue")
    assert "<td>general</td><td>9</td><td>9</td><td>0</td>" in by_queue.replace(' class="l"', "")
    assert "<td>billing</td><td>1</td><td>1</td>" in by_queue.replace(' class="l"', "")
    by_interval = _cells(html, "calls-by-interval")
    assert "2027-03-15" in by_interval
    data = json.loads(to_json(report))
    assert data["calls_by_queue"]["general"]["callbacks_failed"] == 1
    assert data["calls_by_queue"]["billing"]["callbacks_requested"] == 1
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    for title in ("calls by queue", "service levels by queue", "reason codes", "contacts"):
        assert [f"# {title}"] in rows
    fcr = next(r for r in rows if r[:1] == ["repeats_first_contact_resolution"])
    assert float(fcr[1]) == pytest.approx(2 / 3)
    assert ["abandoned_in_queue", "3"] in rows
    assert ["self_service_rate", "0.5"] in rows


async def test_repeat_contacts_and_first_contact_resolution(engine: AsyncEngine) -> None:
    await write_two_queues(engine)
    report = await build_report(engine, ReportSpec(DAY, DAY), NOW)
    repeats = report.repeats
    # account 1: c01, then c02 ten minutes later (a repeat, and c01 not resolved); account 2: c09
    assert (repeats.identified, repeats.repeats, repeats.accounts) == (3, 1, 2)
    assert (repeats.repeat_accounts, repeats.followed) == (1, 1)
    assert repeats.first_contact_resolution == pytest.approx(2 / 3)
    # account 1 calls again three days later: c02 is followed too, seen from the 15th
    later = DAY + timedelta(days=3)
    t = Trail()
    t.open("r1", at("10:00:00", later))
    t.entries.append(AccountMatched("r1", cust(1), "caller_id", at("10:00:03", later)))
    t.close("r1", at("10:01:00", later), "completed", at("10:00:00", later))
    await CallLog(engine).append_many(t.entries)
    after = NOW + timedelta(days=4)
    await refresh(engine, HOURS, after)
    day = (await build_report(engine, ReportSpec(DAY, DAY), after)).repeats
    assert day.followed == 2
    assert day.first_contact_resolution == pytest.approx(1 / 3)
    # and on its own day r1 is a repeat (c02 within 7 days), followed by nothing yet
    own = (await build_report(engine, ReportSpec(later, later), after)).repeats
    assert (own.identified, own.repeats, own.repeat_accounts, own.followed) == (1, 1, 1, 0)
    html = to_html(report)
    assert "1 of 3 (33.3 %), from 1 of 2 accounts" in html
    assert "66.7 % (2 of 3 not called about again within 7 days)" in html
    assert json.loads(to_json(report))["repeats"]["first_contact_resolution"] == pytest.approx(
        2 / 3
    )


async def test_request_kinds_within_and_outside_opening_hours(engine: AsyncEngine) -> None:
    await write_two_queues(engine)
    inside = await build_report(engine, ReportSpec(DAY, DAY, hours="in"), NOW)
    # c01's start (agent) and c09's stop (IVR) were taken on calls within hours; the web
    # move was made on no call
    assert inside.request_kinds == {("start", "agent"): 1, ("stop", "ivr"): 1}
    assert inside.self_service_rate == pytest.approx(0.5)
    outside = await build_report(engine, ReportSpec(DAY, DAY, hours="out"), NOW)
    assert outside.request_kinds == {}
    assert outside.self_service_rate is None
    everything = await build_report(engine, ReportSpec(DAY, DAY), NOW)
    assert everything.request_kinds[("transfer", "web")] == 1


async def test_the_abandoned_list_marks_callers_reached_since(engine: AsyncEngine) -> None:
    await write_day(engine)
    t = Trail()
    # 0935550101 (abandoned 11:00) calls again at 18:00 and an agent answers
    t.open("y1", at("18:00:00"), "0935550101")
    t.queue("y1", "enqueued", at("18:00:05"))
    t.queue("y1", "answered", at("18:00:15"), "agent1")
    t.queue("y1", "call_ended", at("18:02:15"), detail="caller")
    t.close("y1", at("18:02:16"), "answered_by_agent", at("18:00:00"))
    # 0935550102 (short abandon 11:30) keys a stop in the IVR at 18:10
    t.open("y2", at("18:10:00"), "0935550102")
    t.event("y2", "intake_created", at("18:11:00"), kind="stop", node="stop_confirm")
    t.close("y2", at("18:11:30"), "completed", at("18:10:00"))
    # 0935550103 (abandoned 11:40) tries again at 18:20 and abandons again
    t.abandoned_call("y3", at("18:20:00"), 40, "0935550103")
    await CallLog(engine).append_many(t.entries)
    await refresh(engine, HOURS, NOW)
    report = await build_report(engine, ReportSpec(DAY, DAY), NOW)
    listed = [(a.at.strftime("%H:%M"), a.caller, a.reached_since) for a in report.abandons]
    assert listed == [
        ("11:00", "+81935550101", True),
        ("11:30", "+81935550102", True),
        ("11:40", "+81935550103", False),
        ("18:20", "+81935550103", False),
    ]
    rows = _cells(to_html(report), "abandoned").replace(' class="l"', "")
    assert "<td>+81935550101</td><td>yes</td>" in rows
    assert "<td>+81935550103</td><td></td>" in rows
    data = json.loads(to_json(report, callers=False))
    assert [a["reached_since"] for a in data["abandoned_calls"]] == [True, True, False, False]
    assert all("caller" not in a for a in data["abandoned_calls"])


async def test_the_total_within_and_outside_opening_hours(engine: AsyncEngine) -> None:
    await write_two_queues(engine)
    # z1 queues at 20:30, after the phone hours, and hangs up after 25 s
    t = Trail()
    t.abandoned_call("z1", at("20:30:00"), 25, "0935550199")
    await CallLog(engine).append_many(t.entries)
    await refresh(engine, HOURS, NOW)
    for spec in (ReportSpec(DAY, DAY), ReportSpec(DAY, DAY, answer_s=30)):
        # the quarter-hour sums (T = 20 s) and the contacts themselves (T = 30 s) alike
        report = await build_report(engine, spec, NOW)
        inside, outside = report.opening[True], report.opening[False]
        assert (inside.offered, inside.answered, inside.abandoned) == (8, 3, 2)
        assert (outside.queued, outside.offered, outside.abandoned) == (1, 1, 1)
        assert outside.longest_wait_s == pytest.approx(25)
        only_in = await build_report(
            engine, ReportSpec(DAY, DAY, answer_s=spec.answer_s, hours="in"), NOW
        )
        assert only_in.total == inside
    html = to_html(report)
    assert "total within opening hours</td><td>8</td>" in html
    assert "total outside opening hours</td><td>1</td><td>0</td>" in html
    data = json.loads(to_json(report))
    assert data["total_by_opening_hours"]["out"]["abandoned"] == 1
    assert data["total_by_opening_hours"]["in"]["offered"] == 8

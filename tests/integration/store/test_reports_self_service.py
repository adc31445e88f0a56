"""The self-service rate and the request kinds per interval, against the hand-computed day of
`test_reports` (SQLite and PostgreSQL), with more requests than its three:

  request                 taken on  call starts            created (Tokyo)   hours
  start, agent            c01       2027-03-15 10:00:00    10:02             within
  stop, IVR               c02       2027-03-15 10:10:00    10:12             within
  start, agent            zz9       (never rolled up)      11:05             -
  stop, IVR               c09       2027-03-15 14:00:00    14:02             within
  move (stop+start), web  -                                18:00             -
  stop, IVR               m1        2027-03-15 23:59:50    03-16 00:00:05    outside
  stop, web               -                                03-16 00:30       -

By the hour on the 15th: 10:00 one IVR, one agent (50 %); 11:00 one agent on a call the
roll-up does not know, so by its own time (0 %); 14:00 IVR only (100 %); 18:00 the web move
(no request by phone: no rate); 23:00 m1's request, counted with its call though made after
midnight (100 %). On the 16th alone m1's request is in the period (by its own time) and counts
in the period's first interval; the web stop at 00:30 Tokyo (15:30 UTC the day before) in
00:00.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.reports.queries import ReportSpec, build_report
from ivr.reports.render import to_csv, to_html, to_json
from ivr.store.tables import service_requests
from tests.integration.store.test_reports import DAY, NOW, at, write_day

pytestmark = pytest.mark.integration

NEXT = DAY + timedelta(days=1)


def _row(kind: str, channel: str, created: datetime, call: str | None) -> dict[str, Any]:
    return {
        "kind": kind,
        "status": "accepted",
        "fields": {},
        "channel": channel,
        "actor": channel,
        "call_id": call,
        "created_at": created,
    }


async def write(engine: AsyncEngine) -> None:
    await write_day(engine)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(service_requests),
            [
                _row("stop", "ivr", at("10:12:00"), "c02"),
                _row("start", "agent", at("11:05:00"), "zz9"),
                _row("stop", "ivr", at("00:00:05", NEXT), "m1"),
                _row("stop", "web", at("00:30:00", NEXT), None),
            ],
        )


def spec(first: date, last: date, interval: Any = "60", hours: Any = "all") -> ReportSpec:
    return ReportSpec(first, last, interval, hours=hours)


async def test_hourly_rates_and_the_tokyo_midnight(engine: AsyncEngine) -> None:
    await write(engine)
    report = await build_report(engine, spec(DAY, NEXT), NOW)
    assert report.interval_self_service == {
        "2027-03-15 10:00": pytest.approx(0.5),
        "2027-03-15 11:00": 0.0,
        "2027-03-15 14:00": 1.0,
        "2027-03-15 18:00": None,
        "2027-03-15 23:00": 1.0,
        "2027-03-16 00:00": None,
    }
    assert report.interval_requests["2027-03-15 10:00"] == {
        ("start", "agent"): 1,
        ("stop", "ivr"): 1,
    }
    assert report.interval_requests["2027-03-15 18:00"] == {("transfer", "web"): 1}
    assert report.interval_requests["2027-03-16 00:00"] == {("stop", "web"): 1}
    # the intervals add up to the period's figures, which stay as they were
    summed: dict[tuple[str, str], int] = {}
    for kinds in report.interval_requests.values():
        for key, n in kinds.items():
            summed[key] = summed.get(key, 0) + n
    assert summed == report.request_kinds
    assert report.self_service_rate == pytest.approx(3 / 5)
    # the 15th alone: m1's request was made on the 16th, out of the period
    day = await build_report(engine, spec(DAY, DAY), NOW)
    assert "2027-03-15 23:00" not in day.interval_requests
    assert day.self_service_rate == pytest.approx(2 / 4)
    # the 16th alone: m1 began before the period, its request counts in the first interval
    next_day = await build_report(engine, spec(NEXT, NEXT), NOW)
    assert next_day.interval_requests == {
        "2027-03-16 00:00": {("stop", "ivr"): 1, ("stop", "web"): 1}
    }
    assert next_day.interval_self_service == {"2027-03-16 00:00": 1.0}


async def test_quarter_hours_days_and_the_month(engine: AsyncEngine) -> None:
    await write(engine)
    quarter = await build_report(engine, spec(DAY, NEXT, "15"), NOW)
    # c02 started at 10:10 (its request at 10:12): the 10:00 quarter, like c01
    assert quarter.interval_requests["2027-03-15 10:00"] == {
        ("start", "agent"): 1,
        ("stop", "ivr"): 1,
    }
    assert quarter.interval_requests["2027-03-15 23:45"] == {("stop", "ivr"): 1}
    assert quarter.interval_requests["2027-03-16 00:30"] == {("stop", "web"): 1}
    days = await build_report(engine, spec(DAY, NEXT, "day"), NOW)
    # the 15th: c01 and zz9 by agents, c02, c09 and m1 in the IVR
    assert days.interval_self_service == {"2027-03-15": pytest.approx(3 / 5), "2027-03-16": None}
    month = await build_report(engine, spec(DAY, NEXT, "month"), NOW)
    assert month.interval_requests == {"2027-03": month.request_kinds}


async def test_within_and_outside_opening_hours(engine: AsyncEngine) -> None:
    await write(engine)
    inside = await build_report(engine, spec(DAY, NEXT, hours="in"), NOW)
    # by the calls within hours only: no web request, nothing the roll-up has no call for
    assert inside.interval_requests == {
        "2027-03-15 10:00": {("start", "agent"): 1, ("stop", "ivr"): 1},
        "2027-03-15 14:00": {("stop", "ivr"): 1},
    }
    assert inside.interval_self_service == {
        "2027-03-15 10:00": pytest.approx(0.5),
        "2027-03-15 14:00": 1.0,
    }
    outside = await build_report(engine, spec(DAY, NEXT, hours="out"), NOW)
    assert outside.interval_requests == {"2027-03-15 23:00": {("stop", "ivr"): 1}}
    assert outside.interval_self_service == {"2027-03-15 23:00": 1.0}


def _cells(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</table>", start)]


async def test_html_csv_and_json_show_the_rate_per_interval(engine: AsyncEngine) -> None:
    await write(engine)
    report = await build_report(engine, spec(DAY, NEXT), NOW)
    by_interval = _cells(to_html(report), "calls-by-interval").replace(' class="l"', "")
    assert "<th>self-service</th>" in by_interval
    # 10:00: c01 and c02, both within hours, 50 % self-service
    assert "<td>2027-03-15 10:00</td><td>2</td><td>2</td>" in by_interval
    assert "<td>50.0 %</td></tr>" in by_interval
    # 18:00 had no call, only the web move: a row with no calls and no rate
    assert "<tr><td>2027-03-15 18:00</td><td>0</td>" in by_interval
    rows = list(csv.reader(io.StringIO(to_csv(report))))
    calls = rows.index(["# calls"])
    head = rows[calls + 1]
    block = rows[calls + 2 : rows.index([], calls)]
    by_label = {r[0]: dict(zip(head, r, strict=True)) for r in block}
    assert by_label["2027-03-15 10:00"]["self_service_rate"] == "0.5"
    assert by_label["2027-03-15 10:00"]["calls"] == "2"
    assert by_label["2027-03-15 18:00"]["self_service_rate"] == ""
    kinds = rows.index(["# request kinds by interval"])
    assert rows[kinds + 1] == ["interval", "kind", "channel", "requests"]
    assert ["2027-03-15 23:00", "stop", "ivr", "1"] in rows[kinds:]
    data = json.loads(to_json(report))
    assert data["self_service_rate_by_interval"]["2027-03-15 10:00"] == pytest.approx(0.5)
    assert data["self_service_rate_by_interval"]["2027-03-15 18:00"] is None
    assert {
        "interval": "2027-03-16 00:00",
        "kind": "stop",
        "channel": "web",
        "requests": 1,
    } in data["request_kinds_by_interval"]
    assert data["self_service_rate"] == pytest.approx(3 / 5)


async def test_a_web_request_just_before_tokyo_midnight_stays_on_its_day(
    engine: AsyncEngine,
) -> None:
    await write(engine)
    late = at("23:59:59") + timedelta(milliseconds=700)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(service_requests), [_row("start", "web", late, None)])
    report = await build_report(engine, spec(DAY, NEXT), NOW)
    assert report.interval_requests["2027-03-15 23:00"] == {
        ("start", "web"): 1,
        ("stop", "ivr"): 1,
    }
    assert ("start", "web") not in report.interval_requests["2027-03-16 00:00"]

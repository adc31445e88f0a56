"""The staffing plan per hour of the day against a hand-computed trail (SQLite and
PostgreSQL): arrivals are averaged over the days the hotline was open in each hour, a quiet
day counting as a day without calls, a closed day not at all.

The week of Monday 2027-02-08 in Tokyo, phone hours 08:30–19:00 Mon–Sat: Thursday the 11th
(National Foundation Day) and Sunday the 14th are closed, so five days are open. Queue
`general`; every call is answered after 15 s and talks 60 s.

  08:00–09:00  one call (Tuesday 08:45)             1 / 5 days = 0.2 calls a day
  10:00–11:00  six on Monday, four on Wednesday     10 / 5 days = 2 calls a day
               (the other three open days: none)   (averaged over the days with calls: 5)
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import ReportsConfig
from ivr.reports.builder import make_plan, spec_for, target_of
from ivr.store.calls import CallLog
from tests.integration.store.test_reports import PHONE, Trail, at
from tests.integration.store.test_reports_queues import HOURS, answered

pytestmark = pytest.mark.integration

NOW = datetime(2027, 3, 1, tzinfo=UTC)


def week() -> Trail:
    t = Trail()
    answered(t, "tue-0845", at("08:45:00", date(2027, 2, 9)), "general", 15)
    for n in range(6):
        answered(t, f"mon-{n}", at(f"10:{5 * n:02d}:00", date(2027, 2, 8)), "general", 15)
    for n in range(4):
        answered(t, f"wed-{n}", at(f"10:{5 * n:02d}:00", date(2027, 2, 10)), "general", 15)
    return t


async def test_arrivals_per_open_day_in_each_hour(engine: AsyncEngine) -> None:
    await CallLog(engine).append_many(week().entries)
    config = ReportsConfig()
    spec = spec_for(config, date(2027, 2, 8), date(2027, 2, 14))
    plan = await make_plan(
        engine,
        config,
        spec,
        HOURS,
        NOW,
        minutes=60,
        target=target_of(config),
        open_minutes=PHONE.open_minutes,
    )
    rows = [(row.label, round(row.interval.calls, 6), row.interval.aht_s) for row in plan]
    assert rows == [("08:00", 0.2, 60.0), ("10:00", 2.0, 60.0)]
    # 2 calls of 60 s an hour is 0.03 erlang: one agent meets 80 % in 20 s
    assert [row.erlang_c.agents for row in plan] == [1, 1]

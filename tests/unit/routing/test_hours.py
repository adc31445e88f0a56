"""Calendar tables: phone hours, holidays, year-end closure, moving-season peak, lead times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from ivr.domain import TOKYO
from ivr.errors import ConfigError
from routing.hours import DEFAULT_CALENDARS, Calendar, calendars_from_config

pytestmark = pytest.mark.unit

CALENDARS = calendars_from_config(DEFAULT_CALENDARS)
PHONE = CALENDARS["phone"]
EMERGENCY = CALENDARS["emergency"]
CONSTRUCTION = CALENDARS["construction"]


def tokyo(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TOKYO)


@pytest.mark.parametrize(
    ("when", "state"),
    [
        # opening and closing edges on an ordinary Tuesday
        ("2025-06-03 08:29:59", "closed"),
        ("2025-06-03 08:30", "open"),
        ("2025-06-03 18:59:59", "open"),
        ("2025-06-03 19:00", "closed"),
        ("2025-06-07 10:00", "open"),  # Saturday
        ("2025-06-08 10:00", "closed"),  # Sunday
        # substitute holidays (振替休日)
        ("2025-05-06 10:00", "holiday"),
        ("2026-05-06 10:00", "holiday"),
        ("2026-05-07 10:00", "open"),
        # Golden Week 2025: Apr 29 falls in the moving season, May is ordinary
        ("2025-04-29 10:00", "peak"),
        ("2025-05-03 10:00", "holiday"),
        ("2025-05-05 10:00", "holiday"),
        ("2025-05-07 10:00", "open"),
        # year-end closure Dec 29 – Jan 3
        ("2026-12-28 10:00", "open"),
        ("2026-12-29 10:00", "holiday"),
        ("2025-12-31 10:00", "holiday"),
        ("2025-01-03 10:00", "holiday"),
        ("2025-01-04 10:00", "open"),  # Saturday
        ("2025-01-04 08:00", "closed"),
        # moving season: Sundays and holidays open, every open hour is "peak"
        ("2025-04-13 10:00", "peak"),  # Sunday in April
        ("2025-05-11 10:00", "closed"),  # Sunday in May
        ("2025-03-20 10:00", "peak"),  # 春分の日
        ("2025-04-08 10:00", "peak"),  # Tuesday in April
        ("2025-04-08 19:00", "closed"),
        ("2025-03-01 08:30", "peak"),
        ("2025-02-28 08:30", "open"),
    ],
)
def test_phone_states(when: str, state: str) -> None:
    now = tokyo(when)
    assert PHONE.state_at(now) == state
    assert PHONE.is_open(now) == (state in ("open", "peak"))


@pytest.mark.parametrize(
    ("when", "state"),
    [
        ("2025-06-06 17:14:59", "open"),
        ("2025-06-06 17:15", "closed"),
        ("2025-06-07 10:00", "closed"),  # Saturday
        ("2025-04-13 10:00", "closed"),  # no peak for the department
        ("2025-04-29 10:00", "holiday"),
        ("2025-12-30 10:00", "holiday"),
    ],
)
def test_construction_states(when: str, state: str) -> None:
    assert CONSTRUCTION.state_at(tokyo(when)) == state


@pytest.mark.parametrize("when", ["2026-01-01 03:00", "2025-05-06 23:59", "2025-06-08 00:00"])
def test_emergency_is_always_open(when: str) -> None:
    now = tokyo(when)
    assert EMERGENCY.state_at(now) == "open"
    assert EMERGENCY.next_opening(now) == now


def test_other_zones_are_converted_to_tokyo() -> None:
    # 23:30 UTC on Monday is 08:30 on Tuesday in Tokyo
    assert PHONE.state_at(datetime(2025, 6, 2, 23, 30, tzinfo=UTC)) == "open"
    assert PHONE.state_at(datetime(2025, 6, 2, 23, 29, tzinfo=UTC)) == "closed"


@pytest.mark.parametrize("call", [Calendar.state_at, Calendar.is_open, Calendar.next_opening])
def test_naive_datetime_is_refused(call: Callable[[Calendar, datetime], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(PHONE, datetime(2025, 6, 3, 10, 0))


@pytest.mark.parametrize(
    ("calendar", "now", "opening"),
    [
        (PHONE, "2025-06-03 07:00", "2025-06-03 08:30"),
        (PHONE, "2025-06-03 10:00", "2025-06-03 10:00"),  # already open
        (PHONE, "2025-06-03 19:00", "2025-06-04 08:30"),
        (PHONE, "2025-06-07 19:00", "2025-06-09 08:30"),  # over Sunday
        (PHONE, "2025-04-12 19:00", "2025-04-13 08:30"),  # April Sunday is open
        (PHONE, "2025-05-02 19:00", "2025-05-07 08:30"),  # Golden Week
        (PHONE, "2025-12-27 19:30", "2026-01-05 08:30"),  # year-end, then Sunday Jan 4
        (PHONE, "2024-12-28 19:00", "2025-01-04 08:30"),  # year-end, reopens Saturday
        (CONSTRUCTION, "2025-06-06 17:15", "2025-06-09 08:30"),  # weekend
        (CONSTRUCTION, "2025-12-26 17:15", "2026-01-05 08:30"),
    ],
)
def test_next_opening(calendar: Calendar, now: str, opening: str) -> None:
    result = calendar.next_opening(tokyo(now))
    assert result == tokyo(opening)
    assert result.tzinfo is TOKYO


def test_next_opening_from_utc_is_the_same_instant() -> None:
    now = datetime(2025, 6, 7, 10, 0, tzinfo=UTC)  # Saturday 19:00 in Tokyo
    assert PHONE.next_opening(now) == tokyo("2025-06-09 08:30")


@pytest.mark.parametrize(
    ("calendar", "a", "b", "days"),
    [
        (CONSTRUCTION, "2025-06-02", "2025-06-02", 0),
        (CONSTRUCTION, "2025-06-02", "2025-06-03", 1),
        (CONSTRUCTION, "2025-06-06", "2025-06-09", 1),  # Fri → Mon
        # Golden Week: Apr 29, May 5 and the substitute May 6 are closed
        (CONSTRUCTION, "2025-04-25", "2025-05-09", 7),
        (CONSTRUCTION, "2025-05-09", "2025-04-25", -7),
        # the phone line also opens Saturdays and moving-season Sundays/holidays
        (PHONE, "2025-04-25", "2025-05-09", 10),
        (CONSTRUCTION, "2025-12-26", "2026-01-05", 1),
        (PHONE, "2025-12-26", "2026-01-05", 2),  # Dec 27 (Sat) and Jan 5
    ],
)
def test_business_days_between(calendar: Calendar, a: str, b: str, days: int) -> None:
    assert calendar.business_days_between(date.fromisoformat(a), date.fromisoformat(b)) == days


def test_day_plan_explains_the_day() -> None:
    plan = PHONE.day_plan(date(2025, 12, 31))
    assert (plan.hours, plan.closed_for) == ((), "year-end")
    assert PHONE.day_plan(date(2025, 5, 6)).closed_for == "みどりの日 振替休日"
    assert PHONE.day_plan(date(2025, 4, 13)).peak == "moving-season"


def test_one_off_closures_split_hours_and_open_holidays() -> None:
    cal = calendars_from_config(
        {
            "desk": {
                "weekly": {"mon": ["09:00-12:00", "13:00-17:00"], "tue": "09:00-17:00"},
                "national_holidays": "open",
                "closures": [{"name": "system move", "start": "2025-06-10", "end": "2025-06-10"}],
            }
        }
    )["desk"]
    assert cal.state_at(tokyo("2025-06-09 12:30")) == "closed"  # lunch
    assert cal.next_opening(tokyo("2025-06-09 12:30")) == tokyo("2025-06-09 13:00")
    assert cal.state_at(tokyo("2025-06-10 10:00")) == "holiday"
    assert cal.state_at(tokyo("2025-06-17 10:00")) == "open"
    assert cal.state_at(tokyo("2025-07-21 10:00")) == "open"  # 海の日, a Monday
    assert cal.next_opening(tokyo("2025-06-09 17:00")) == tokyo("2025-06-16 09:00")


def test_overnight_hours_written_as_two_days() -> None:
    cal = calendars_from_config(
        {"night": {"weekly": {"mon": "22:00-24:00", "tue": "00:00-06:00"}}}
    )["night"]
    assert cal.is_open(tokyo("2025-06-02 23:59:59"))
    assert cal.is_open(tokyo("2025-06-03 00:00"))
    assert not cal.is_open(tokyo("2025-06-03 06:00"))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"weekly": {"mon": "8:30-19:00"}}, "calendars.bad.weekly.mon"),
        ({"weekly": {"mon": "08:30-25:00"}}, "not a clock time"),
        ({"weekly": {"mon": "19:00-08:30"}}, "closes before it opens"),
        ({"weekly": {"mon": ["08:30-12:00", "11:00-13:00"]}}, "overlap"),
        ({"weekly": {"mon": [1140]}}, "calendars.bad.weekly.mon"),  # YAML's 19:00
        ({"weekly": {"sunday": "08:30-19:00"}}, "calendars.bad.weekly.sunday"),
        ({"weekly": {"mon": "08:30-19:00"}, "hours": {}}, "unknown key"),
        ({"weekly": {}}, "never open"),
        ({"always_open": True, "weekly": {"mon": "08:30-19:00"}}, "always_open"),
        (
            {
                "weekly": {"mon": "08:30-19:00"},
                "closures": [{"name": "x", "start": "02-30", "end": "03-01"}],
            },
            "no such day",
        ),
        (
            {
                "weekly": {"mon": "08:30-19:00"},
                "closures": [{"name": "x", "start": "12-29", "end": "2026-01-03"}],
            },
            "both",
        ),
        ({"weekly": {"mon": "08:30-19:00"}, "national_holidays": False}, "national_holidays"),
    ],
)
def test_bad_calendar_config_names_the_key(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        calendars_from_config({"bad": config})

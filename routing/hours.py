"""Opening-hours calendars in Asia/Tokyo: weekly hours, Japanese national holidays (with
substitute and citizens' holidays, from `jpholiday`), closures such as the year-end Dec 29 – Jan 3,
and peak-season overrides such as the March–April moving season. A `Calendar` answers pure
questions about a given instant or day; it never reads the clock, so callers pass `now`, and it
must be timezone-aware (any zone: it is converted to Tokyo time first).

States, as `Calendar.state_at` returns them:

- ``"open"``    – within opening hours on an ordinary day.
- ``"peak"``    – within opening hours on a day inside a peak season, whether those hours come
  from the season's override (an April Sunday) or from the normal week (an April Tuesday). The
  whole season is busy, so the flow can use it for the "busy season" greeting and early callback
  offers, not only on the extra days.
- ``"holiday"`` – closed all day because of a national holiday or a named closure (year-end).
- ``"closed"``  – any other time outside opening hours (nights, Sundays, after 19:00).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import jpholiday
from pydantic import ValidationError

from ivr.domain import TOKYO, HoursState
from ivr.errors import ConfigError
from routing.config import (
    DEFAULT_CALENDARS,
    MINUTES_PER_DAY,
    WEEKDAYS,
    CalendarConfig,
    Interval,
    RoutingConfig,
)

__all__ = [
    "DEFAULT_CALENDARS",
    "Calendar",
    "CalendarState",
    "DayPlan",
    "calendar_named",
    "calendars_from_config",
    "calendars_of",
    "call_hours",
    "report_calendar",
]

CalendarState = HoursState

# next_opening gives up after this many days; a loaded calendar opens at least weekly unless
# closures cover whole years, which is a configuration mistake worth an error, not a hang.
_SEARCH_DAYS = 2 * 366

_ALL_DAY = (Interval(start=0, end=MINUTES_PER_DAY),)


@dataclass(frozen=True, slots=True)
class DayPlan:
    """The opening hours of one day and why. `closed_for` names the holiday or closure that shuts
    the whole day; `peak` names the peak season the day falls in (None outside seasons)."""

    day: date
    hours: tuple[Interval, ...]
    closed_for: str | None = None
    peak: str | None = None

    def opens_at(self) -> tuple[datetime, ...]:
        return tuple(_at(self.day, i.start) for i in self.hours)


def _at(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(0), tzinfo=TOKYO) + timedelta(minutes=minute)


def _tokyo(now: datetime, what: str = "now") -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(
            f"{what} must be timezone-aware, got naive {now.isoformat()}; "
            "use e.g. datetime.now(tz=routing.hours.TOKYO)"
        )
    return now.astimezone(TOKYO)


class Calendar:
    """A named opening-hours calendar built from a validated `CalendarConfig`."""

    def __init__(self, name: str, config: CalendarConfig) -> None:
        self.name = name
        self.config = config

    def __repr__(self) -> str:
        return f"Calendar({self.name!r})"

    def day_plan(self, day: date) -> DayPlan:
        """The hours of `day` (a Tokyo calendar date) after closures, peaks and holidays."""
        cfg = self.config
        if cfg.always_open:
            return DayPlan(day, _ALL_DAY)
        for closure in cfg.closures:
            if closure.contains(day):
                return DayPlan(day, (), closed_for=closure.name)
        weekday = WEEKDAYS[day.weekday()]
        holiday = jpholiday.is_holiday_name(day)
        season = next((p for p in cfg.peak if p.contains(day)), None)
        peak = season.name if season is not None else None
        if holiday is not None:
            if season is not None and season.holidays is not None:
                return DayPlan(day, season.holidays, peak=peak)
            if cfg.national_holidays == "closed":
                return DayPlan(day, (), closed_for=holiday, peak=peak)
        if season is not None and weekday in season.weekly:
            return DayPlan(day, season.weekly[weekday], peak=peak)
        return DayPlan(day, cfg.weekly.get(weekday, ()), peak=peak)

    def state_at(self, now: datetime) -> CalendarState:
        local = _tokyo(now)
        plan = self.day_plan(local.date())
        if _within(plan, local):
            return "peak" if plan.peak is not None else "open"
        return "holiday" if plan.closed_for is not None else "closed"

    def is_open(self, now: datetime) -> bool:
        local = _tokyo(now)
        return _within(self.day_plan(local.date()), local)

    def next_opening(self, now: datetime) -> datetime:
        """`now` (in Tokyo time) if open, else the start of the next opening interval."""
        local = _tokyo(now)
        day = local.date()
        for offset in range(_SEARCH_DAYS):
            plan = self.day_plan(day + timedelta(days=offset))
            for interval in plan.hours:
                start = _at(plan.day, interval.start)
                end = _at(plan.day, interval.end)
                if start <= local < end:
                    return local
                if start > local:
                    return start
        raise ValueError(f"calendar {self.name!r} does not open within {_SEARCH_DAYS} days")

    def open_minutes(self, day: date) -> tuple[tuple[int, int], ...]:
        """The minutes of Tokyo `day` the calendar is open: (start, end) minute-of-day pairs."""
        return tuple((i.start, i.end) for i in self.day_plan(day).hours)

    def is_business_day(self, day: date) -> bool:
        return bool(self.day_plan(day).hours)

    def business_days_between(self, a: date, b: date) -> int:
        """Open days d with a < d <= b: the lead time from `a` to `b` in this calendar's working
        days (holidays and closures excluded, peak-season extra days included). Negative when
        b < a, so that f(a, b) == -f(b, a). Use the department's calendar for back-office work."""
        if isinstance(a, datetime) or isinstance(b, datetime):
            raise TypeError("business_days_between takes dates, not datetimes")
        if b < a:
            return -self.business_days_between(b, a)
        return sum(
            1 for n in range(1, (b - a).days + 1) if self.is_business_day(a + timedelta(days=n))
        )


def _within(plan: DayPlan, local: datetime) -> bool:
    return any(_at(plan.day, i.start) <= local < _at(plan.day, i.end) for i in plan.hours)


def calendars_from_config(
    mapping: Mapping[str, Any], source: str = "config.yaml"
) -> dict[str, Calendar]:
    """Build named calendars from plain data (`{name: {weekly: ..., closures: ...}}`), as the
    `routing.calendars` key of config.yaml holds it. Raises `ConfigError` naming every bad key
    (`config.yaml: routing.calendars.phone.weekly.mon.0: ...`)."""
    try:
        config = RoutingConfig.model_validate({"calendars": dict(mapping)})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    return calendars_of(config)


def calendars_of(config: RoutingConfig) -> dict[str, Calendar]:
    """The calendars of an already validated `RoutingConfig` (e.g. `AppConfig.routing`)."""
    return {name: Calendar(name, cfg) for name, cfg in config.calendars.items()}


def calendar_named(config: RoutingConfig, name: str, key: str) -> Calendar:
    """The calendar `name` of `config`; `key` names the setting that asks for it (the error)."""
    calendars = calendars_of(config)
    if name not in calendars:
        raise ConfigError(f"{key}: no calendar {name!r} in routing.calendars")
    return calendars[name]


def report_calendar(config: RoutingConfig, calendar: str, queue: str | None = None) -> Calendar:
    """The calendar the reports count `queue`'s opening hours by: the queue's own
    (`routing.queues.<queue>.calendar`), else `calendar` (`reports.calendar`: no queue, or a
    queue no longer in the config)."""
    queues = config.queues
    name = queues[queue].calendar if queue is not None and queue in queues else calendar
    return calendar_named(config, name, "reports.calendar")


def call_hours(config: RoutingConfig, calendar: str) -> Callable[[datetime, str | None], bool]:
    """Whether a call that started at `at` came within opening hours, for the reports: by its
    queue's calendar (`routing.queues.<queue>.calendar`) when it was queued, else by `calendar`
    (`reports.calendar`, the hotline's phone hours: what a caller who never reached a queue,
    say one served by the IVR or put through to a department, was told the hotline keeps). A
    queue no longer in the config is counted by `calendar` too."""
    calendars = calendars_of(config)
    default = calendar_named(config, calendar, "reports.calendar").is_open
    by_queue = {name: calendars[q.calendar].is_open for name, q in config.queues.items()}

    def within(at: datetime, queue: str | None) -> bool:
        return by_queue.get(queue or "", default)(at)

    return within


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        path = ".".join(["routing", *(str(p) for p in error["loc"])])
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"{source}: {path}: {message}")
    return "\n".join(lines)

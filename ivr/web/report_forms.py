"""Reading the report page's and the staffing page's query strings (`ivr.web.report`): each
field checked at the edge, every problem a field error code (`ivr.web.report_texts` has the
words), never an exception. Pure: no request, no database."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import cast

from ivr.reports.queries import INTERVALS, HoursFilter, IntervalName

HOURS: tuple[HoursFilter, ...] = ("all", "in", "out")
# a report's longest period, and the longest one with sub-day intervals (a page, not a dump)
MAX_DAYS = 366
MAX_FINE_DAYS = 31
PLAN_MINUTES = ("15", "30", "60")
# what-if bounds: the offered load stays below MAX_LOAD erlangs (Erlang A's chain stays small)
MAX_LOAD = 400.0


@dataclass
class Parsed:
    """What a form's fields say: the `values` as typed (to show again) and the field errors."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str, default: str = "") -> str:
        return self.values.get(name, default).strip()


@dataclass(frozen=True, slots=True)
class ReportChoice:
    first: date
    last: date
    queue: str | None
    interval: IntervalName
    hours: HoursFilter


@dataclass(frozen=True, slots=True)
class WhatIf:
    calls: float
    minutes: int
    aht_s: float
    target: float
    answer_s: float
    shrinkage: float
    patience_s: float | None


NAMES_REPORT = ("from", "to", "queue", "interval", "hours")
NAMES_WHAT_IF = ("calls", "minutes", "aht", "target", "answer_s", "shrinkage", "patience")
NAMES_PEAK = ("year", "plan_minutes", "plan_queue")


def values_of(query: Mapping[str, str], names: Collection[str]) -> dict[str, str]:
    """The named fields of `query`, cut to 40 characters (nothing we read is longer)."""
    return {n: query[n][:40] for n in names if n in query}


def _date(p: Parsed, name: str) -> date | None:
    try:
        return date.fromisoformat(p.text(name))
    except ValueError:
        p.errors[name] = "bad_date"
        return None


def _choice(p: Parsed, name: str, allowed: Collection[str], default: str, code: str) -> str:
    value = p.text(name, default) or default
    if value not in allowed:
        p.errors[name] = code
    return value


def parse_report(query: Mapping[str, str], queues: Collection[str]) -> tuple[Parsed, ReportChoice]:
    """The report form; the choice is only meaningful when `parsed.errors` is empty."""
    p = Parsed(values_of(query, NAMES_REPORT))
    first, last = _date(p, "from"), _date(p, "to")
    queue = p.text("queue")
    if queue and queue not in queues:
        p.errors["queue"] = "unknown_queue"
    interval = _choice(p, "interval", INTERVALS, "day", "bad_choice")
    hours = _choice(p, "hours", HOURS, "all", "bad_choice")
    if first is not None and last is not None:
        days = (last - first).days + 1
        if days < 1:
            p.errors["to"] = "before_from"
        elif days > MAX_DAYS:
            p.errors["to"] = "too_long"
        elif interval in PLAN_MINUTES and days > MAX_FINE_DAYS and "interval" not in p.errors:
            p.errors["interval"] = "too_fine"
    choice = ReportChoice(
        first or date.min,
        last or date.min,
        queue or None,
        cast(IntervalName, interval),
        cast(HoursFilter, hours),
    )
    return p, choice


def _number(
    p: Parsed, name: str, low: float, high: float, *, required: bool = True
) -> float | None:
    """A number in [low, high]; blank is None when not `required`."""
    raw = p.text(name)
    if not raw:
        if required:
            p.errors[name] = "required"
        return None
    try:
        value = float(raw)
    except ValueError:
        p.errors[name] = "not_a_number"
        return None
    if not math.isfinite(value) or not low <= value <= high:
        p.errors[name] = "out_of_range"
        return None
    return value


def parse_what_if(query: Mapping[str, str]) -> tuple[Parsed, WhatIf | None]:
    """The what-if form: calls per interval, AHT, target (%), T, shrinkage (%), patience."""
    p = Parsed(values_of(query, NAMES_WHAT_IF))
    calls = _number(p, "calls", 0.1, 20_000)
    minutes = _choice(p, "minutes", PLAN_MINUTES, "30", "bad_choice")
    aht = _number(p, "aht", 1, 7200)
    target = _number(p, "target", 1, 99.9)
    answer_s = _number(p, "answer_s", 1, 3600)
    shrinkage = _number(p, "shrinkage", 0, 90)
    patience = _number(p, "patience", 1, 7200, required=False)
    if p.errors or calls is None or aht is None or target is None or answer_s is None:
        return p, None
    if calls * aht / (int(minutes) * 60) > MAX_LOAD:
        p.errors["calls"] = "too_much_load"
        return p, None
    return p, WhatIf(
        calls,
        int(minutes),
        aht,
        target / 100,
        answer_s,
        (shrinkage or 0.0) / 100,
        patience,
    )


@dataclass(frozen=True, slots=True)
class PeakChoice:
    first: date
    last: date
    minutes: int
    queue: str | None


def parse_peak(
    query: Mapping[str, str], queues: Collection[str], today: date
) -> tuple[Parsed, PeakChoice | None]:
    """The peak plan's form: a past year (its March–April), the plan's interval, a queue."""
    p = Parsed(values_of(query, NAMES_PEAK))
    year = _number(p, "year", 2000, today.year)
    minutes = _choice(p, "plan_minutes", PLAN_MINUTES, "60", "bad_choice")
    queue = p.text("plan_queue")
    if queue and queue not in queues:
        p.errors["plan_queue"] = "unknown_queue"
    if year is not None and year != int(year):
        p.errors["year"] = "not_a_number"
    if p.errors or year is None:
        return p, None
    first = date(int(year), 3, 1)
    last = min(date(int(year), 4, 30), today - timedelta(days=1))
    if last < first:
        p.errors["year"] = "no_season_yet"
        return p, None
    return p, PeakChoice(first, last, int(minutes), queue or None)

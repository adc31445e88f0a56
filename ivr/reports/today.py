"""Today's queue figures for the wallboard, from the call trail in the database: the calls
that started since midnight Asia/Tokyo, each reduced by the reports' own `contact_of`, counted
into the reports' `QueueFigures` (whose properties are the ASA and service-level formulas of
`hotline report`).

Nothing is counted in memory from events as they pass: `TodayTrail` keeps the reduced contacts
of today's calls as a cache of the database and, on each `figures`, re-reads only the calls
whose trail grew since it last looked (trail ids are increasing). A new engine, or a new Tokyo
day, starts from an empty cache and reads the day again: the numbers are the same.

A call still going counts as it stands: waiting callers are queue contacts whose outcome is
`unfinished` (in Q, hence in offered O = Q − S), an answered call on the phone is answered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import TOKYO
from ivr.reports.contacts import Contact, contact_of, one_calendar
from ivr.reports.metrics import QueueFigures
from ivr.reports.rollup import calls_with_trails
from ivr.store.tables import call_events, calls

TOTAL = "(all)"
"""The key of the figures over every queue."""
# calls reduced per statement (SQLite's bound-parameter limit)
CHUNK = 2000


def day_start(now: datetime) -> datetime:
    """Midnight Asia/Tokyo of the Tokyo day `now` falls on."""
    local = now.astimezone(TOKYO)
    return datetime.combine(local.date(), datetime.min.time(), TOKYO)


def add_contact(figures: QueueFigures, contact: Contact, answer_s: float, short_s: float) -> None:
    """Count one queue contact into `figures`, by the same rules as the report's sums
    (`ivr.reports.sums.queue_sums`): a short abandon waited under `short_s`, an answer or
    abandon "within T" waited at most `answer_s`."""
    wait = contact.wait_s or 0.0
    figures.queued += 1
    figures.wait_all_s += wait
    figures.longest_wait_s = max(figures.longest_wait_s, wait)
    outcome = contact.outcome
    if outcome == "answered":
        figures.answered += 1
        figures.answered_within += wait <= answer_s
        figures.wait_answered_s += wait
        figures.talk_s += contact.talk_s
        figures.hold_s += contact.hold_s
        figures.wrap_s += contact.wrap_s
    elif outcome == "abandoned" and wait < short_s:
        figures.short_abandons += 1
    elif outcome == "abandoned":
        figures.abandoned += 1
        figures.abandoned_within += wait <= answer_s
    elif outcome == "callback":
        figures.callbacks += 1
    elif outcome == "overflow":
        figures.overflows += 1
    elif outcome == "closed":
        figures.closed += 1
    else:
        figures.unfinished += 1


def queue_figures(
    contacts: Iterable[Contact], answer_s: float, short_abandon_s: float
) -> dict[str, QueueFigures]:
    """Figures per queue and over all queues (`TOTAL`), of the queue contacts among `contacts`
    (a callback call is counted apart in the reports, and so left out here)."""
    out: dict[str, QueueFigures] = {TOTAL: QueueFigures()}
    for contact in contacts:
        if contact.queue is None or contact.callback_of is not None:
            continue
        for key in (contact.queue, TOTAL):
            add_contact(out.setdefault(key, QueueFigures()), contact, answer_s, short_abandon_s)
    return out


@dataclass(frozen=True, slots=True)
class Today:
    """Today's figures (`figures[TOTAL]` and per queue) for the Tokyo day starting at `start`."""

    start: datetime
    figures: Mapping[str, QueueFigures]


class TodayTrail:
    """The contacts of today's calls, read from `db` (see the module docstring)."""

    def __init__(self, db: AsyncEngine, *, answer_s: float, short_abandon_s: float) -> None:
        self._db = db
        self.answer_s = answer_s
        self.short_abandon_s = short_abandon_s
        self._start: datetime | None = None
        self._last_id = 0
        self._contacts: dict[str, Contact] = {}

    def contacts(self) -> list[Contact]:
        """The contacts counted at the last `figures`."""
        return list(self._contacts.values())

    async def figures(self, now: datetime) -> Today:
        start = day_start(now)
        if start != self._start:
            self._start, self._last_id, self._contacts = start, 0, {}
        async with self._db.connect() as conn:
            touched = await conn.run_sync(self._read, start)
        self._contacts.update(touched)
        return Today(
            start,
            queue_figures(self._contacts.values(), self.answer_s, self.short_abandon_s),
        )

    def _read(self, conn: sa.Connection, start: datetime) -> dict[str, Contact]:
        top = conn.execute(sa.select(sa.func.max(call_events.c.id))).scalar() or 0
        if top <= self._last_id:
            return {}
        ids = (
            conn.execute(
                sa.select(call_events.c.call_id)
                .join(calls, calls.c.id == call_events.c.call_id)
                .where(
                    call_events.c.id > self._last_id,
                    call_events.c.id <= top,
                    calls.c.started_at >= start,
                    calls.c.started_at < start + timedelta(days=1),
                )
                .distinct()
            )
            .scalars()
            .all()
        )
        self._last_id = int(top)
        out: dict[str, Contact] = {}
        for first in range(0, len(ids), CHUNK):
            out.update(reduce_calls(conn, list(ids[first : first + CHUNK])))
        return out


def reduce_calls(conn: sa.Connection, ids: list[str]) -> dict[str, Contact]:
    """The `Contact` of each call of `ids`, from its whole trail."""
    if not ids:
        return {}
    found = calls_with_trails(conn, ids)
    return {call.call_id: contact_of(call, trail, _ALWAYS) for call, trail in found}


# the wallboard does not divide by opening hours
_ALWAYS = one_calendar(lambda _at: True)

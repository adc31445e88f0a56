"""The SQL sums of a report, over `report_contacts` rows: the `QueueFigures` of the queue
contacts and the `CallFigures` of all calls, in the order of their fields. The roll-up
(`report_intervals`) and the report's direct scan compute them with the same expressions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ivr.store.tables import report_contacts

c = report_contacts.c


def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def seconds(condition: sa.ColumnElement[bool], value: sa.ColumnElement[Any]) -> Any:
    return sa.func.sum(sa.case((condition, value), else_=0.0))


def inbound(queue: str | None = None) -> sa.ColumnElement[bool]:
    """A queue contact (a callback call is counted apart, under callbacks)."""
    condition = sa.and_(c.queue.is_not(None), c.callback_of.is_(None))
    return condition if queue is None else sa.and_(condition, c.queue == queue)


def queue_sums(answer_s: float, short_abandon_s: float, where: sa.ColumnElement[bool]) -> list[Any]:
    """The `QueueFigures` sums (field order) of the rows that are `where` queue contacts."""
    wait = sa.func.coalesce(c.wait_s, 0.0)
    answered = sa.and_(where, c.outcome == "answered")
    abandoned = sa.and_(where, c.outcome == "abandoned")
    short = sa.and_(abandoned, wait < short_abandon_s)
    long = sa.and_(abandoned, wait >= short_abandon_s)
    return [
        count(where),
        count(short),
        count(answered),
        count(sa.and_(answered, wait <= answer_s)),
        count(long),
        count(sa.and_(long, wait <= answer_s)),
        count(sa.and_(where, c.outcome == "callback")),
        count(sa.and_(where, c.outcome == "overflow")),
        count(sa.and_(where, c.outcome == "closed")),
        count(sa.and_(where, c.outcome == "unfinished")),
        seconds(answered, wait),
        sa.func.max(sa.case((where, wait), else_=0.0)),
        seconds(answered, c.talk_s),
        seconds(answered, c.hold_s),
        seconds(answered, c.wrap_s),
        seconds(where, wait),
    ]


def call_sums() -> list[Any]:
    """The `CallFigures` sums (field order) of all the rows."""
    return [
        sa.func.count(),
        count(c.in_hours.is_(True)),
        count(c.closed.is_(True)),
        count(c.self_served.is_(True)),
        sa.func.sum(c.intakes),
        count(c.transferred.is_(True)),
        count(c.emergency.is_(True)),
        count(c.callback_requested.is_(True)),
        count(c.callback_dialled.is_(True)),
        count(sa.and_(c.callback_of.is_not(None), c.outcome == "answered")),
        count(c.callback_failed.is_(True)),
    ]


QUEUE_SUMS = (
    "queued",
    "short_abandons",
    "answered",
    "answered_within",
    "abandoned",
    "abandoned_within",
    "callbacks",
    "overflows",
    "closed_q",
    "unfinished",
    "wait_answered_s",
    "longest_wait_s",
    "talk_s",
    "hold_s",
    "wrap_s",
    "wait_all_s",
)
CALL_SUMS = (
    "calls",
    "in_hours_calls",
    "while_closed",
    "ivr_completed",
    "intakes",
    "transferred",
    "emergency",
    "callbacks_requested",
    "callbacks_dialled",
    "callbacks_completed",
    "callbacks_failed",
)

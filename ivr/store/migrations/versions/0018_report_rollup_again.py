"""The reports' roll-up read again: within / outside opening hours now goes by each queue's
calendar (`routing.hours.call_hours`), and a caller moved to another queue waits from the
first enqueue (`ivr.reports.contacts`), so the rows rolled up before are wrong. The roll-up
is derived data: every table of it is emptied and the next refresh reads the whole trail
again (`ivr.reports.rollup.rebuild` does the same). No schema change.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ROLLUP = (
    "report_contacts",
    "report_intervals",
    "report_day_classes",
    "report_agent_time",
    "report_agent_open",
    "report_wrap_ups",
    "report_progress",
)


def upgrade() -> None:
    for table in _ROLLUP:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 — our own table names


def downgrade() -> None:
    # the rows of the old reduction are not worth keeping: the older code refills them too
    for table in _ROLLUP:
        op.execute(f"DELETE FROM {table}")  # noqa: S608 — our own table names

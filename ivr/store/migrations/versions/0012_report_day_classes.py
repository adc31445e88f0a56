"""The reports' roll-up: contacts counted per Tokyo day by outcome, wrap-up reason, department
and agent (`report_day_classes`), so that a year's classification and the agents' handled
calls read tens of thousands of rows, not a million contacts. The quarter-hour sums are
emptied too (`report_progress` forgets their thresholds): the next refresh sums every day of
both again (`ivr.reports.rollup`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_day_classes",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("in_hours", sa.Boolean(), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=False),
        sa.Column("wrap_reason", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("agent", sa.String(length=64), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("transferred", sa.Integer(), nullable=False),
        sa.Column("handled", sa.Integer(), nullable=False),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("hold_s", sa.Float(), nullable=False),
        sa.Column("wrap_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "in_hours",
            "reason_code",
            "wrap_reason",
            "department",
            "agent",
            name=op.f("pk_report_day_classes"),
        ),
    )
    op.execute("DELETE FROM report_intervals")
    op.execute(
        "DELETE FROM report_progress WHERE name IN ('interval_answer_ms', 'interval_short_ms')"
    )


def downgrade() -> None:
    op.drop_table("report_day_classes")

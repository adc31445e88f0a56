"""The reports' roll-up: one row per call and the agent trail as spans, derived from the trail.

`report_contacts` holds what the reports count of each call (queue outcome, wait, talk,
transfer, intake, Tokyo day and minute of day); `report_agent_spans` each agent state from one
agent event to the next, cut at Tokyo midnight; `report_progress` how far each trail has been
read. `ivr.reports.rollup` fills them from `call_events` and `agent_events` (only what is new
since the last run), so a year's report groups a million rows instead of reducing ten million
events. They can be emptied and rebuilt from the trail at any time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_contacts",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("epoch_s", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("minute", sa.SmallInteger(), nullable=False),
        sa.Column("in_hours", sa.Boolean(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("callback_of", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=False),
        sa.Column("hold_s", sa.Float(), nullable=False),
        sa.Column("callback_requested", sa.Boolean(), nullable=False),
        sa.Column("callback_dialled", sa.Boolean(), nullable=False),
        sa.Column("callback_failed", sa.Boolean(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("self_served", sa.Boolean(), nullable=False),
        sa.Column("intakes", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("transferred", sa.Boolean(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("reason_code", sa.String(length=32), nullable=True),
        sa.Column("wrap_reason", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_report_contacts")),
    )
    with op.batch_alter_table("report_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_contacts_epoch_s"), ["epoch_s"], unique=False)
        batch_op.create_index(
            "ix_report_contacts_account_id_epoch_s", ["account_id", "epoch_s"], unique=False
        )
    op.create_table(
        "report_agent_spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("epoch_s", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_agent_spans")),
    )
    with op.batch_alter_table("report_agent_spans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_agent_spans_login"), ["login"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_report_agent_spans_call_id"), ["call_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_report_agent_spans_epoch_s"), ["epoch_s"], unique=False
        )
    op.create_table(
        "report_progress",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_progress")),
    )


def downgrade() -> None:
    op.drop_table("report_progress")
    op.drop_table("report_agent_spans")
    op.drop_table("report_contacts")

"""Agent presence and the agent trail: the console's ready / paused / logged-out survive a restart.

`agent_presence` holds each agent's chosen availability (ready, paused with a reason, logged
out), since when and the phone they took calls on: an engine that starts puts every agent back
there. `agent_events` is the append-only agent trail (every state change, calls' offers and
wrap-ups included) that the wallboard and the reports read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

STATUSES = "'logged_out', 'ready', 'paused', 'offered', 'on_call', 'wrap_up'"


def upgrade() -> None:
    op.create_table(
        "agent_presence",
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('ready', 'paused', 'logged_out')", name=op.f("ck_agent_presence_status")
        ),
        sa.ForeignKeyConstraint(
            ["login"], ["staff.login"], name=op.f("fk_agent_presence_login_staff")
        ),
        sa.PrimaryKeyConstraint("login", name=op.f("pk_agent_presence")),
    )
    op.create_table(
        "agent_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("before", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint(f"before IN ({STATUSES})", name=op.f("ck_agent_events_before")),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_agent_events_status")),
        sa.ForeignKeyConstraint(
            ["login"], ["staff.login"], name=op.f("fk_agent_events_login_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_events")),
    )
    with op.batch_alter_table("agent_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_events_login"), ["login"], unique=False)
        batch_op.create_index(batch_op.f("ix_agent_events_at"), ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("agent_events")
    op.drop_table("agent_presence")

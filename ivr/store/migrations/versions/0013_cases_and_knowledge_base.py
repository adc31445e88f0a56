"""Complaints and requests keyed by agents for a department's work list (`cases`, with who took
each step of the follow-up and when) and the agents' knowledge base (`kb_entries`, FAQ entries
in Japanese and English searched on their normalised text).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("said", sa.String(length=2000), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("received_by", sa.String(length=100), nullable=False),
        sa.Column("in_hand_at", sa.DateTime(), nullable=True),
        sa.Column("in_hand_by", sa.String(length=100), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("answer", sa.String(length=2000), nullable=True),
        sa.CheckConstraint("kind IN ('complaint', 'request')", name=op.f("ck_cases_kind")),
        sa.CheckConstraint(
            "status IN ('received', 'in_hand', 'answered')", name=op.f("ck_cases_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_cases_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_call_id"), ["call_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_received_at"), ["received_at"], unique=False)
        batch_op.create_index("ix_cases_department_status", ["department", "status"], unique=False)
    op.create_table(
        "kb_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("question", sa.String(length=500), nullable=False),
        sa.Column("answer", sa.String(length=2000), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("lang IN ('ja', 'en')", name=op.f("ck_kb_entries_lang")),
        sa.CheckConstraint(
            "state IN ('proposed', 'live', 'retired')", name=op.f("ck_kb_entries_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_entries")),
    )
    with op.batch_alter_table("kb_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_entries_category"), ["category"], unique=False)
        batch_op.create_index("ix_kb_entries_state_lang", ["state", "lang"], unique=False)


def downgrade() -> None:
    op.drop_table("kb_entries")
    op.drop_table("cases")

"""Call memory: the restart state of calls in progress, moved off Asterisk's channel variables.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_memory",
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", "key", name=op.f("pk_call_memory")),
    )


def downgrade() -> None:
    op.drop_table("call_memory")

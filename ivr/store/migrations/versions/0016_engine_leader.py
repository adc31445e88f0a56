"""The leader lock's generation (`ivr.leader`): one row, raised by every engine that takes the
PostgreSQL advisory lock, with its host, pid and the time it took over (naive UTC, like every
timestamp of ours; `hotline status`).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_leader",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engine_leader")),
    )


def downgrade() -> None:
    op.drop_table("engine_leader")

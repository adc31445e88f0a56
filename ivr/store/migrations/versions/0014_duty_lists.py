"""The leak line's on-duty lists in the database (`duty_lists`, `duty_steps`): edited in the
console, read by the engine at each escalation; config.yaml's `on_duty` lists seed them once.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duty_lists",
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("department", name=op.f("pk_duty_lists")),
    )
    op.create_table(
        "duty_steps",
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("ring_s", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department"],
            ["duty_lists.department"],
            name=op.f("fk_duty_steps_department_duty_lists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("department", "position", name=op.f("pk_duty_steps")),
    )


def downgrade() -> None:
    op.drop_table("duty_steps")
    op.drop_table("duty_lists")

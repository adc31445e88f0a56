"""Departments edited in the console (`ivr.store.departments`): label, endpoint or number and
hours calendar per department code, with who changed it last; config.yaml's departments seed
it once. Replaces the first schema's `departments` table, which only the demo filled (with
codes no config named) and nothing ever read.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("departments")
    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("label_ja", sa.String(length=100), nullable=False),
        sa.Column("label_en", sa.String(length=100), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=True),
        sa.Column("number", sa.String(length=21), nullable=True),
        sa.Column("calendar", sa.String(length=32), nullable=True),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
    )


def downgrade() -> None:
    op.drop_table("departments")
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_ja", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("endpoint", sa.String(length=200), nullable=False),
        sa.Column("on_duty", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )

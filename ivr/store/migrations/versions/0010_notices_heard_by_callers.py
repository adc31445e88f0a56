"""Notices that callers hear: several areas per notice, audio state per language, who and when.

A notice now lists its areas in `notice_areas` (one row per premises' area code; the old
`notices.area_code` moves there), carries the state of its rendered audio per language
(``pending`` → ``ready`` or ``failed`` with the reason shown to the admin; a notice is played
only once every language is ready) and who entered and who ended it. Notices that existed
before keep their area and start ``pending``: the engine renders them like new ones.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_KIND_CHECK = "kind IN ('construction', 'planned_outage', 'discoloured_water', 'other')"


def upgrade() -> None:
    # the area codes wait in a plain table while `notices` is rebuilt: on SQLite the rebuild
    # drops the old table, which would cascade to a `notice_areas` that already pointed at it
    op.create_table(
        "notice_areas_0010",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=16), nullable=False),
    )
    op.execute(
        "INSERT INTO notice_areas_0010 (notice_id, area_code) SELECT id, area_code FROM notices"
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        # named again so that SQLite's copy of the table keeps it (batch mode drops CHECKs)
        batch_op.drop_constraint(op.f("ck_notices_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notices_kind"), _KIND_CHECK)
        batch_op.drop_index(batch_op.f("ix_notices_area_code"))
        batch_op.drop_column("area_code")
        for lang in ("ja", "en"):
            batch_op.add_column(
                sa.Column(
                    f"audio_{lang}", sa.String(length=8), nullable=False, server_default="pending"
                )
            )
            batch_op.add_column(
                sa.Column(f"audio_{lang}_reason", sa.String(length=300), nullable=True)
            )
            batch_op.create_check_constraint(
                op.f(f"ck_notices_audio_{lang}"), f"audio_{lang} IN ('pending', 'ready', 'failed')"
            )
        batch_op.add_column(sa.Column("created_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("created_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("ended_by", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_notices_valid_until"), ["valid_until"], unique=False)
    op.create_table(
        "notice_areas",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_areas_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notice_id", "area_code", name=op.f("pk_notice_areas")),
    )
    with op.batch_alter_table("notice_areas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_areas_area_code"), ["area_code"], unique=False)
    op.execute(
        "INSERT INTO notice_areas (notice_id, area_code)"
        " SELECT notice_id, area_code FROM notice_areas_0010"
    )
    op.drop_table("notice_areas_0010")


def downgrade() -> None:
    # a plain ADD COLUMN (no rebuild of `notices` while `notice_areas` points at it)
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_code", sa.String(length=16), nullable=True))
    # a notice of several areas keeps its first one (the old schema had one area per notice)
    op.execute(
        "UPDATE notices SET area_code = (SELECT MIN(area_code) FROM notice_areas"
        " WHERE notice_areas.notice_id = notices.id)"
    )
    with op.batch_alter_table("notice_areas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_areas_area_code"))
    op.drop_table("notice_areas")
    op.execute("DELETE FROM notices WHERE area_code IS NULL")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.alter_column("area_code", existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_constraint(op.f("ck_notices_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_notices_kind"), _KIND_CHECK)
        batch_op.create_index(batch_op.f("ix_notices_area_code"), ["area_code"], unique=False)
        batch_op.drop_index(batch_op.f("ix_notices_valid_until"))
        for lang in ("ja", "en"):
            batch_op.drop_constraint(op.f(f"ck_notices_audio_{lang}"), type_="check")
            batch_op.drop_column(f"audio_{lang}_reason")
            batch_op.drop_column(f"audio_{lang}")
        for column in ("created_at", "created_by", "ended_at", "ended_by"):
            batch_op.drop_column(column)

"""Account search by name kana, and per-user API tokens.

`ix_accounts_holder_kana` lets an agent's prefix search on the holder's reading use an index
(on PostgreSQL with `varchar_pattern_ops`, which `LIKE 'prefix%'` needs under any collation).
`api_tokens` holds one token per member of staff for the REST API (`Authorization: Bearer`),
stored only as its SHA-256: a copy of the table lets nobody in.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_accounts_holder_kana",
        "accounts",
        ["holder_kana"],
        unique=False,
        postgresql_ops={"holder_kana": "varchar_pattern_ops"},
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_api_tokens_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_api_tokens_staff_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_index("ix_accounts_holder_kana", table_name="accounts")

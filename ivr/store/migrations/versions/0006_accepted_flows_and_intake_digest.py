"""The last accepted version of the flow files, and what an idempotency key was first used for.

`accepted_flow_files` keeps the text of every dialplan file and the prompt catalog as they were
when they last went live together, so an engine started with a broken file on disk serves that
version instead of refusing to start. `intake_keys.digest` is the digest of the request a key
was first used for: the same key with different content is a conflict, not the first receipt.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accepted_flow_files",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('flow', 'catalog')", name=op.f("ck_accepted_flow_files_kind")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_accepted_flow_files")),
    )
    with op.batch_alter_table("intake_keys", schema=None) as batch_op:
        # null for keys written before this revision: they are not compared
        batch_op.add_column(sa.Column("digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_keys", schema=None) as batch_op:
        batch_op.drop_column("digest")
    op.drop_table("accepted_flow_files")

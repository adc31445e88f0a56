"""Bank-debit sign-up requests, and idempotency keys for intake requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 10:00:00

SQLite cannot alter a CHECK constraint, so the kind check is replaced in batch mode (Alembic
copies the table); PostgreSQL alters it in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_KINDS_0001 = (
    "start",
    "stop",
    "transfer_stop",
    "transfer_start",
    "name_change",
    "phone_change",
    "reconnection",
    "leak",
)
_KINDS_0002 = (*_KINDS_0001, "bank_debit")


def _kind_check(kinds: tuple[str, ...]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def upgrade() -> None:
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_service_requests_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_service_requests_kind"), _kind_check(_KINDS_0002))
    op.create_table(
        "intake_keys",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_requests.id"],
            name=op.f("fk_intake_keys_request_id_service_requests"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_intake_keys")),
    )


def downgrade() -> None:
    op.drop_table("intake_keys")
    op.execute(
        "DELETE FROM billing_outbox WHERE request_id IN "
        "(SELECT id FROM service_requests WHERE kind = 'bank_debit')"
    )
    op.execute("DELETE FROM service_requests WHERE kind = 'bank_debit'")
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_service_requests_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_service_requests_kind"), _kind_check(_KINDS_0001))

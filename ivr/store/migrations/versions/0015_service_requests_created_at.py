"""An index on service_requests.created_at: the report's requests by kind and channel read a
period's requests (`ivr.reports.queries`); without the index every report scans them all
(bench/reports.py measures both).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_service_requests_created_at"), "service_requests", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_service_requests_created_at"), table_name="service_requests")

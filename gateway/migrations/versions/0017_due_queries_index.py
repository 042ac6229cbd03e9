"""due queries index: payments' next_query_at indexed only where it is set

Revision ID: 0017_due_queries_index
Revises: 0016_console_sessions
Create Date: 2026-12-04 18:10:00

ix_payments_next_query_at   was over every payment; only a payment whose outcome is still being
                            asked has a next_query_at, and the query poller looks only for those
                            (`next_query_at IS NOT NULL AND next_query_at <= now`). Partial on
                            both engines: a settled payment (nearly all of them) adds no entry,
                            so an insert writes one index entry less.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_due_queries_index"
down_revision: str | None = "0016_console_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_payments_next_query_at"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="payments")
    op.create_index(
        INDEX,
        "payments",
        ["next_query_at"],
        postgresql_where=sa.text("next_query_at IS NOT NULL"),
        sqlite_where=sa.text("next_query_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="payments")
    op.create_index(INDEX, "payments", ["next_query_at"])

"""pg refuse: a function that fails the statement it is called in, with a given message

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 12:00:00

PostgreSQL only (SQLite has no stored functions and does not need it). The raw ledger work
(gateway/storage/pg_ledger.py) writes a payment's whole transaction in one statement and calls
`paygate_refuse(reason)` from it when one of its checks fails (a repeated request, a balance
that would go below zero, a payment changed meanwhile): the statement, and with it everything it
wrote, is rolled back, and the gateway reads the reason from the error.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # VOLATILE: never evaluated ahead of time, only when its CASE branch is taken
    op.execute(
        "CREATE OR REPLACE FUNCTION paygate_refuse(reason text) RETURNS bigint "
        "LANGUAGE plpgsql VOLATILE AS $$ "
        "BEGIN RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = reason; END $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS paygate_refuse(text)")

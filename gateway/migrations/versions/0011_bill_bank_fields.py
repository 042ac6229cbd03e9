"""bill bank fields: a bank attempt's send claim, and the payee bank's CNAPS number

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the bill worker that claimed the current attempt's 8801 call, and until when (NULL: free)
    op.add_column("bills", sa.Column("attempt_claimed_by", sa.String(length=128), nullable=True))
    op.add_column("bills", sa.Column("attempt_claimed_until", sa.DateTime(timezone=True), nullable=True))
    # the payee bank's CNAPS number (联行号), from the applicant's registered card
    op.add_column("bills", sa.Column("payee_bank_no", sa.String(length=12), nullable=True))
    op.add_column("accounts", sa.Column("card_bank_no", sa.String(length=12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("card_bank_no")
    with op.batch_alter_table("bills") as batch:
        batch.drop_column("payee_bank_no")
        batch.drop_column("attempt_claimed_until")
        batch.drop_column("attempt_claimed_by")

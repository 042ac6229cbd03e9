"""bill safety: how a bank failure is known, and write-offs reserved on loans

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL: a bank failure recorded before this column, or none: never verified (no resend)
    op.add_column("bills", sa.Column("bank_failure_evidence", sa.String(length=24), nullable=True))
    # a completed loan: the part of its open amount that accepted reimbursements have reserved
    op.add_column(
        "bills",
        sa.Column("loan_reserved_minor", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("bills") as batch:
        batch.drop_column("loan_reserved_minor")
        batch.drop_column("bank_failure_evidence")

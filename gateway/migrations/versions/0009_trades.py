"""seed-003 trades stored before they are paid; seed-001 payout fields (SMS phone, payType)

Revision ID: 0009_trades
Revises: 0008
Create Date: 2026-12-04 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_trades"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENCRYPTED_LENGTH = 255  # gateway/storage/tables.py EncryptedNumber


def upgrade() -> None:
    # seed 001: where the payee's SMS goes (encrypted like the payee account), ExtData payType
    op.add_column("payouts", sa.Column("sms_phone", sa.String(length=ENCRYPTED_LENGTH), nullable=True))
    op.add_column("payouts", sa.Column("pay_type", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.drop_column("pay_type")
        batch.drop_column("sms_phone")

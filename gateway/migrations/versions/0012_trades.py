"""seed-003 trades stored before they are paid; seed-001 payout fields (SMS phone, payType)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 08:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENCRYPTED_LENGTH = 255  # gateway/storage/tables.py EncryptedNumber
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # seed 001: where the payee's SMS goes (encrypted like the payee account), ExtData payType
    op.add_column("payouts", sa.Column("sms_phone", sa.String(length=ENCRYPTED_LENGTH), nullable=True))
    op.add_column("payouts", sa.Column("pay_type", sa.SmallInteger(), nullable=True))
    # seed 003: the trade (t_trans), stored with its terms before pay_trans pays it once
    op.create_table(
        "trades",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("out_trade_no", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("buyer_account", sa.String(length=64), nullable=False),
        sa.Column("seller_account", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("pay_method", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("settlement", sa.String(length=16), nullable=False),
        sa.Column("fee_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("fee_account", sa.String(length=64), nullable=True),
        sa.Column("payment_mode", sa.String(length=32), nullable=True),
        sa.Column("parallel_type", sa.String(length=16), nullable=False),
        sa.Column("pay_solution", JSON, nullable=True),
        sa.Column("flags", JSON, nullable=False),
        sa.Column("memo", sa.String(length=256), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("app_id", "out_trade_no", name="uq_trades_app_out_trade_no"),
    )


def downgrade() -> None:
    op.drop_table("trades")
    with op.batch_alter_table("payouts") as batch:
        batch.drop_column("pay_type")
        batch.drop_column("sms_phone")

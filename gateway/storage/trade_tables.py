"""Row table of seed-003 trades (t_trans), on the gateway's one `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.tables import Json, UTCDateTime, metadata

trades = sa.Table(
    "trades",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("out_trade_no", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("buyer_account", sa.String(64), nullable=False),
    sa.Column("seller_account", sa.String(64), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("pay_method", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("settlement", sa.String(16), nullable=False),
    sa.Column("fee_amount_minor", sa.BigInteger, nullable=True),
    sa.Column("fee_account", sa.String(64), nullable=True),
    sa.Column("payment_mode", sa.String(32), nullable=True),  # the pay request's pay mode must equal it
    sa.Column("parallel_type", sa.String(16), nullable=False),
    sa.Column("pay_solution", Json, nullable=True),  # upper merchants and fee solution (multiple)
    sa.Column("flags", Json, nullable=False),  # need_share_profit, is_profit, ... credit_recv_id
    sa.Column("memo", sa.String(256), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("app_id", "out_trade_no", name="uq_trades_app_out_trade_no"),
)

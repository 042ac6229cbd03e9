"""Row tables of lease orders (租赁订单, the platform's 合约) and their rent periods, on the
gateway's one `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.tables import Json, UTCDateTime, metadata

lease_orders = sa.Table(
    "lease_orders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # also Alipay's out_order_id
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("out_order_no", sa.String(64), nullable=False),  # the caller's order number
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("channel_order_id", sa.String(64), nullable=True),
    sa.Column("buyer_id", sa.String(32), nullable=False),
    sa.Column("title", sa.String(64), nullable=False),
    sa.Column("total_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("period_count", sa.SmallInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # the sub-states the workers select on; their details are in the JSON columns
    sa.Column("contract_status", sa.String(16), nullable=False),
    sa.Column("agreement_status", sa.String(16), nullable=False),
    sa.Column("plan_status", sa.String(16), nullable=False),
    sa.Column("contract", Json, nullable=False),
    sa.Column("agreement", Json, nullable=False),
    sa.Column("plan", Json, nullable=False),
    sa.Column("closure", Json, nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(512), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("app_id", "out_order_no", name="uq_lease_orders_app_out_order_no"),
    # the lists, newest first (migration 0010_list_indexes says which serves which)
    sa.Index("ix_lease_orders_app_id_created_at_id", "app_id", "created_at", "id"),
    sa.Index("ix_lease_orders_status_created_at_id", "status", "created_at", "id"),
    sa.Index("ix_lease_orders_created_at_id", "created_at", "id"),
)

lease_periods = sa.Table(
    "lease_periods",
    metadata,
    sa.Column("order_id", sa.String(40), sa.ForeignKey("lease_orders.id"), primary_key=True),
    sa.Column("period_no", sa.SmallInteger, primary_key=True),
    sa.Column("due_date", sa.String(10), nullable=False),  # YYYY-MM-DD, a Beijing calendar day
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("last_failure_code", sa.String(64), nullable=True),
    sa.Column("last_failure_message", sa.String(512), nullable=True),
    # when the collection worker may start the next attempt (None: not schedulable)
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("attempt_started_at", UTCDateTime(), nullable=True),
    sa.Column("paid_at", UTCDateTime(), nullable=True),
    sa.Column("trade_no", sa.String(64), nullable=True),
    sa.Index("ix_lease_periods_status_next_attempt_at", "status", "next_attempt_at"),
    # /ops/lease/orders?period_status= (migration 0010_list_indexes)
    sa.Index("ix_lease_periods_status_order_id", "status", "order_id"),
)

"""Row table of payouts (对外支付单), on the gateway's one `metadata`."""

from __future__ import annotations

import sqlalchemy as sa

from gateway.storage.tables import EncryptedNumber, Json, UTCDateTime, metadata

payouts = sa.Table(
    "payouts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(64), nullable=False),  # the source platform (projectAuthId)
    sa.Column("source_platform", sa.String(64), nullable=True),  # the caller's own label, if any
    sa.Column("serial_no", sa.String(64), nullable=False),  # 项目对外支付流水号
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("trace_id", sa.String(64), nullable=True),
    sa.Column("order_serial_no", sa.String(64), nullable=False),
    sa.Column("payee_account", EncryptedNumber(), nullable=False),  # an Alipay id or a bank card
    sa.Column("payee_name", sa.String(128), nullable=True),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # the fine-grained reason: type + reason (seed §6)
    sa.Column("type", sa.SmallInteger, nullable=False),
    sa.Column("reason", sa.String(256), nullable=False),
    sa.Column("pay_method", sa.String(16), nullable=False),
    sa.Column("pay_back_type", sa.SmallInteger, nullable=False),
    sa.Column("business_type", sa.String(1), nullable=False),
    sa.Column("insurance_merchant", sa.String(128), nullable=True),
    sa.Column("send_sms", sa.Boolean, nullable=False),
    sa.Column("sms_phone", EncryptedNumber(), nullable=True),  # where the SMS goes, if not the payee account
    sa.Column("pay_type", sa.SmallInteger, nullable=True),  # ExtData payType 支付方式(原路)
    sa.Column("creator", sa.String(64), nullable=True),
    sa.Column("bank", Json, nullable=True),
    sa.Column("voucher", Json, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("review", Json, nullable=True),  # decision, reviewer, at, operator, note
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("channel", sa.String(64), nullable=True),
    sa.Column("channel_ref", sa.String(128), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(512), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    # the UTC day of application, YYYY-MM-DD: the report filters and groups by it on any database
    sa.Column("created_day", sa.String(10), nullable=False),
    sa.UniqueConstraint("app_id", "serial_no", name="uq_payouts_app_serial"),
    # the lists, newest first (migration 0010_list_indexes says which serves which)
    sa.Index("ix_payouts_app_id_created_at_id", "app_id", "created_at", "id"),
    sa.Index("ix_payouts_status_created_at_id", "status", "created_at", "id"),
    sa.Index("ix_payouts_created_at_id", "created_at", "id"),
    sa.Index("ix_payouts_serial_no", "serial_no"),
    sa.Index("ix_payouts_created_day", "created_day"),
)

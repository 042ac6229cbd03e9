"""Row tables (SQLAlchemy Core), kept apart from the core's entities and mapped by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from gateway.storage import card_vault

# room for a 128-character number as v1:<key id>:<base64 of nonce + ciphertext + tag>
ENCRYPTED_LENGTH = 255


def serial_id() -> sa.Column[int]:
    """An auto-increment primary key: BIGINT on PostgreSQL, SQLite's INTEGER rowid alias."""
    return sa.Column(
        "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: times are timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedNumber(sa.TypeDecorator[str]):
    """A card or account number stored encrypted (gateway/storage/card_vault.py), read in clear.

    The stored text is randomised, so such a column is never compared by equality: a column that
    is looked up has a keyed-hash column beside it.
    """

    impl = sa.String(ENCRYPTED_LENGTH)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else card_vault.current().encrypt(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else card_vault.current().decrypt(value)


Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(64), nullable=True, index=True),  # None: platform-owned
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("allow_overdraft", sa.Boolean, nullable=False, default=False),
    # sub-account 1 (available) and 3 (pending settlement), integer minor units
    sa.Column("available_minor", sa.BigInteger, nullable=False, default=0),
    sa.Column("pending_minor", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # the owner's registered bank card, where the bank pays them (bills' applicants)
    sa.Column("card_no", EncryptedNumber(), nullable=True),
    sa.Column("card_no_hash", sa.String(64), nullable=True, index=True),  # card_vault.lookup_hash
    sa.Column("card_name", sa.String(128), nullable=True),
    sa.Column("card_bank_name", sa.String(128), nullable=True),
    sa.Column("card_bank_no", sa.String(12), nullable=True),  # CNAPS 联行号 of the card's bank
)

ledger_txns = sa.Table(
    "ledger_txns",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("subject_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    serial_id(),
    sa.Column("txn_id", sa.String(40), sa.ForeignKey("ledger_txns.id"), nullable=False, index=True),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("sub_account", sa.String(2), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),  # + 转入 credit, - 转出 debit
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("balance_after_minor", sa.BigInteger, nullable=False),
    sa.Column("memo", sa.String(256), nullable=False, default=""),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_ledger_entries_account_id_id", "account_id", "id"),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("out_request_no", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("pay_method", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # a bank payment's card numbers, a ledger payment's account ids: encrypted alike
    sa.Column("payer_account", EncryptedNumber(), nullable=True),
    sa.Column("payee_account", EncryptedNumber(), nullable=True),
    sa.Column("business_type", sa.String(32), nullable=True),
    sa.Column("memo", sa.String(256), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("channel_ref", sa.String(128), nullable=True),
    sa.Column("failure_code", sa.String(64), nullable=True),
    sa.Column("failure_message", sa.String(512), nullable=True),
    sa.Column("details", Json, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # query schedule for processing/unknown outcomes (survives restarts)
    sa.Column("next_query_at", UTCDateTime(), nullable=True),
    sa.Column("query_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("escalated", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("app_id", "out_request_no", name="uq_payments_app_request"),
    # the lists, newest first (migration 0010_list_indexes says which serves which)
    sa.Index("ix_payments_app_id_created_at_id", "app_id", "created_at", "id"),
    sa.Index("ix_payments_status_created_at_id", "status", "created_at", "id"),
    sa.Index("ix_payments_created_at_id", "created_at", "id"),
)
# the query poller's due payments: only those with a next query (migration 0017)
sa.Index(
    "ix_payments_next_query_at",
    payments.c.next_query_at,
    postgresql_where=payments.c.next_query_at.is_not(None),
    sqlite_where=payments.c.next_query_at.is_not(None),
)
# /ops/payments?escalated=true: only the few escalated rows, on both engines (a partial index)
sa.Index(
    "ix_payments_escalated_created_at_id",
    payments.c.created_at,
    payments.c.id,
    postgresql_where=payments.c.escalated,
    sqlite_where=payments.c.escalated,
)

transfer_logs = sa.Table(
    "transfer_logs",
    metadata,
    serial_id(),
    sa.Column("payment_id", sa.String(40), nullable=False, index=True),
    sa.Column("ledger_txn_id", sa.String(40), sa.ForeignKey("ledger_txns.id"), nullable=False),
    sa.Column("payer_account", sa.String(64), nullable=True),
    sa.Column("payee_account", sa.String(64), nullable=True),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

deferred_settlements = sa.Table(
    "deferred_settlements",
    metadata,
    serial_id(),
    sa.Column("payment_id", sa.String(40), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("postings", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | applied | blocked
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.String(512), nullable=True),
    sa.Column("due_at", UTCDateTime(), nullable=False, index=True),
    sa.Column("applied_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("payment_id", "seq", name="uq_deferred_payment_seq"),
)

fundings = sa.Table(
    "fundings",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("out_request_no", sa.String(64), nullable=False, unique=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("ledger_txn_id", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # also the event id sent to the app
    sa.Column("app_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False, index=True),
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("leased_until", UTCDateTime(), nullable=True),
    sa.Column("leased_by", sa.String(128), nullable=True),  # the process delivering it (a holder id)
    sa.Column("last_error", sa.String(512), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    # /ops/notifications, newest first (migration 0010_list_indexes)
    sa.Index("ix_outbox_status_created_at_id", "status", "created_at", "id"),
    sa.Index("ix_outbox_created_at_id", "created_at", "id"),
)

# One row per worker whose rounds only one gateway process may run at a time (the bill and
# lease workers): the holder renews its lease while it runs; a crashed holder's lease expires.
worker_leases = sa.Table(
    "worker_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("leased_until", UTCDateTime(), nullable=False),
)

flow_log = sa.Table(
    "pay_life_log",
    metadata,
    serial_id(),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("node", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("message", sa.String(512), nullable=False, default=""),
    sa.Column("detail", Json, nullable=False),
    sa.Column("actor", sa.String(64), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_pay_life_log_subject_id_id", "subject_id", "id"),
)

nonces = sa.Table(
    "nonces",
    metadata,
    sa.Column("app_id", sa.String(64), primary_key=True),
    sa.Column("nonce", sa.String(128), primary_key=True),
    sa.Column("seen_at", UTCDateTime(), nullable=False, index=True),
)

# bank_req_source / bank_res_parsing_source / bank_res_error of seed 002: every exchange with a
# channel, masked by the plugin before it gets here
channel_exchanges = sa.Table(
    "channel_exchanges",
    metadata,
    serial_id(),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("response", sa.Text, nullable=True),
    sa.Column("error", sa.String(512), nullable=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_channel_exchanges_subject_id_id", "subject_id", "id"),
)

from gateway.storage import approval_tables as approval_tables  # noqa: E402,F401 - audit and approvals on this metadata
from gateway.storage import bill_tables as bill_tables  # noqa: E402,F401 - bills on this metadata
from gateway.storage import console_session_tables as console_session_tables  # noqa: E402,F401 - console sessions on this metadata
from gateway.storage import lease_tables as lease_tables  # noqa: E402,F401 - lease orders on this metadata
from gateway.storage import operator_tables as operator_tables  # noqa: E402,F401 - operators on this metadata
from gateway.storage import payout_tables as payout_tables  # noqa: E402,F401 - payouts on this metadata
from gateway.storage import trade_tables as trade_tables  # noqa: E402,F401 - trades on this metadata

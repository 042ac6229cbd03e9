"""list indexes: the keyset lists, newest first by (created_at, id), stay fast at a million rows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 09:00:00

Every list reads `WHERE <filter> AND (created_at, id) < (cursor) ORDER BY created_at DESC, id
DESC LIMIT n+1`, so each index below ends in (created_at, id) and a page is one index range:

payments
    ix_payments_app_id_created_at_id      GET /v1/payments (the caller's own), /ops/payments?app_id
    ix_payments_status_created_at_id      /ops/payments?status (e.g. unknown), /v1/payments?status
    ix_payments_created_at_id             /ops/payments unfiltered, and ?channel (few channels: a
                                          short walk of this index finds a page)
    ix_payments_escalated_created_at_id   /ops/payments?escalated=true; partial (WHERE escalated) on
                                          both PostgreSQL and SQLite, so it holds only the few
                                          escalated rows
bills
    ix_bills_app_id_created_at_id         GET /v1/bills, /ops/bills?app_id
    ix_bills_status_created_at_id         /ops/bills?status, and ?needs_action=true (a few statuses)
    ix_bills_created_at_id                /ops/bills unfiltered, and ?pay_mode
payouts
    ix_payouts_app_id_created_at_id       GET /v1/payouts, /ops/payouts?app_id
    ix_payouts_status_created_at_id       /ops/payouts?status (pending_review: the review queue);
                                          replaces ix_payouts_status_created_at, its prefix
    ix_payouts_created_at_id              /ops/payouts unfiltered
    ix_payouts_serial_no                  /ops/payouts?serial_no without an app (with an app,
                                          uq_payouts_app_serial serves it)
lease_orders / lease_periods
    ix_lease_orders_app_id_created_at_id  GET /v1/lease/orders, /ops/lease/orders?app_id
    ix_lease_orders_status_created_at_id  /ops/lease/orders?status; replaces
                                          ix_lease_orders_status_created_at, its prefix
    ix_lease_orders_created_at_id         /ops/lease/orders unfiltered
    ix_lease_periods_status_order_id      /ops/lease/orders?period_status=failed|collecting: the
                                          orders holding such a period, from the periods' side
outbox
    ix_outbox_status_created_at_id        /ops/notifications?status (failing: pending, attempts > 0)
    ix_outbox_created_at_id               /ops/notifications unfiltered, and ?app_id, ?event_type
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEWEST_FIRST = ("created_at", "id")
# (table, index, columns) made by this migration
INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    *(
        (table, f"ix_{table}_{key}_created_at_id", (key, *NEWEST_FIRST))
        for table in ("payments", "bills", "payouts", "lease_orders")
        for key in ("app_id", "status")
    ),
    *(
        (table, f"ix_{table}_created_at_id", NEWEST_FIRST)
        for table in ("payments", "bills", "payouts", "lease_orders")
    ),
    ("payouts", "ix_payouts_serial_no", ("serial_no",)),
    ("lease_periods", "ix_lease_periods_status_order_id", ("status", "order_id")),
    ("outbox", "ix_outbox_status_created_at_id", ("status", *NEWEST_FIRST)),
    ("outbox", "ix_outbox_created_at_id", NEWEST_FIRST),
)
# (table, index, columns) that a longer index of INDEXES replaces
REPLACED = (
    ("payouts", "ix_payouts_status_created_at", ("status", "created_at")),
    ("lease_orders", "ix_lease_orders_status_created_at", ("status", "created_at")),
)
ESCALATED = "ix_payments_escalated_created_at_id"


def upgrade() -> None:
    for table, name, columns in INDEXES:
        op.create_index(name, table, list(columns))
    op.create_index(
        ESCALATED,
        "payments",
        list(NEWEST_FIRST),
        postgresql_where=sa.text("escalated"),
        sqlite_where=sa.text("escalated = 1"),
    )
    for table, name, _ in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for table, name, columns in REPLACED:
        op.create_index(name, table, list(columns))
    op.drop_index(ESCALATED, table_name="payments")
    for table, name, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)

"""The lists read through the indexes of migration 0010_list_indexes: each index exists after
the migrations, and SQLite's plan of a page walks the index the migration names for that list,
in the list's order with no temporary sort (a page costs the same on the first and the
millionth row)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from list_rows import BASE, payment
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.storage.queries.bill_list import BillFilter
from gateway.storage.queries.lease_list import LeaseOrderFilter
from gateway.storage.queries.notification_list import NotificationFilter
from gateway.storage.queries.pages import Listing, PageRequest, read_page
from gateway.storage.queries.payment_list import PaymentFilter
from gateway.storage.queries.payout_list import PayoutFilter

# (list, its index) as the migration's docstring pairs them
PLANS: list[tuple[str, Listing, str]] = [
    ("GET /v1/payments", PaymentFilter().listing("shop"), "ix_payments_app_id_created_at_id"),
    ("/ops/payments?status", PaymentFilter(status="unknown").listing(), "ix_payments_status_created_at_id"),
    (
        "/ops/payments?escalated",
        PaymentFilter(escalated=True).listing(),
        "ix_payments_escalated_created_at_id",
    ),
    ("/ops/payments", PaymentFilter().listing(), "ix_payments_created_at_id"),
    ("GET /v1/bills", BillFilter().listing("shop"), "ix_bills_app_id_created_at_id"),
    ("/ops/bills?status", BillFilter(status="bank_failed").listing(), "ix_bills_status_created_at_id"),
    ("GET /v1/payouts", PayoutFilter().listing("shop"), "ix_payouts_app_id_created_at_id"),
    (
        "/ops/payouts?status",
        PayoutFilter(status="pending_review").listing(),
        "ix_payouts_status_created_at_id",
    ),
    ("/ops/payouts?serial_no", PayoutFilter(serial_no="S-1").listing(), "ix_payouts_serial_no"),
    ("GET /v1/lease/orders", LeaseOrderFilter().listing("shop"), "ix_lease_orders_app_id_created_at_id"),
    (
        "/ops/lease/orders?status",
        LeaseOrderFilter(status="synced").listing(),
        "ix_lease_orders_status_created_at_id",
    ),
    (
        "/ops/notifications?status",
        NotificationFilter(status="dead").listing(),
        "ix_outbox_status_created_at_id",
    ),
]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


async def test_every_list_index_exists_after_the_migrations(engine: AsyncEngine) -> None:
    def names(conn: sa.Connection) -> set[str]:
        inspector = sa.inspect(conn)
        return {i["name"] for table in inspector.get_table_names() for i in inspector.get_indexes(table)}

    async with engine.connect() as conn:
        present = await conn.run_sync(names)
    wanted = {index for _, _, index in PLANS} | {
        "ix_lease_periods_status_order_id",
        "ix_outbox_created_at_id",
    }
    assert wanted <= present
    assert not {"ix_payouts_status_created_at", "ix_lease_orders_status_created_at"} & present, "replaced"


@pytest.mark.parametrize(("name", "listing", "index"), PLANS, ids=[p[0] for p in PLANS])
async def test_a_page_walks_its_index_without_sorting(
    engine: AsyncEngine, database_url: str, name: str, listing: Listing, index: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the plan is checked on SQLite; PostgreSQL plans by its statistics")
    async with engine.connect() as conn:
        await payment(conn, "cursor", "shop", BASE)
        await conn.commit()
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
            statements.append((statement, parameters))

        sa.event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            cursor = "cursor" if listing.table.name == "payments" else None
            await read_page(conn, listing, PageRequest(20, starting_after=cursor))
        finally:
            sa.event.remove(engine.sync_engine, "before_cursor_execute", capture)
        statement, parameters = statements[-1]
        plan = " | ".join(
            row[-1] for row in await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        )
    assert f"INDEX {index}" in plan, plan
    if index != "ix_payouts_serial_no":  # the few payouts of one serial number are sorted, not walked
        assert "TEMP B-TREE" not in plan, plan

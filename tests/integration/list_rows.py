"""Rows for the list tests, written straight to the tables through the gateway's own row
mappers and repositories: payments, bills, payouts, lease orders and webhook notifications of
a given app, created at a given time, in a given status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from core.bills.model import BankFailureEvidence, Bill, BillKind, BillStatus
from core.lease.order import LeaseOrder
from core.lease.request import check_order
from core.lease.status import OrderStatus
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from core.payouts.checks import check_item
from core.payouts.model import Payout, PayoutApplication, PayoutStatus
from gateway.http.schemas.lease import LeaseOrderBody
from gateway.storage import tables as t
from gateway.storage.bills import SqlBills
from gateway.storage.lease import SqlLeaseOrders
from gateway.storage.lease_tables import lease_periods
from gateway.storage.payouts import SqlPayouts
from gateway.storage.rows import new_payment_row, outbox_row

BASE = datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC)
Seed = Callable[..., Awaitable[None]]


def at(i: int, same: int = 3) -> datetime:
    """The i-th row's creation time: every `same` rows share one, so ties are broken by id."""
    return BASE + timedelta(seconds=i // same)


async def payment(
    conn: AsyncConnection,
    id: str,
    app_id: str,
    created_at: datetime,
    status: str = "succeeded",
    channel: str = "internal",
    escalated: bool = False,
) -> None:
    p = Payment(
        id=id,
        app_id=app_id,
        out_request_no=f"no-{id}",
        request_hash="h" * 64,
        pay_method="balance",
        channel=channel,
        amount=Money(1_00, "CNY"),
        payer_account="6222020202020202",
        payee_account="6222030303030303",
        status=PaymentStatus(status),
        created_at=created_at,
        updated_at=created_at,
        details={"mask_accounts": True},
    )
    await conn.execute(t.payments.insert().values(**new_payment_row(p, {"escalated": escalated})))


async def bill(
    conn: AsyncConnection,
    id: str,
    app_id: str,
    created_at: datetime,
    status: str = "completed",
    pay_mode: str = "transfer",
) -> None:
    b = Bill(
        id=id,
        app_id=app_id,
        kind=BillKind.LOAN,
        bill_code=f"JK-{id}",
        request_hash="h" * 64,
        status=BillStatus(status),
        pay_mode=pay_mode,
        applicant_account_id="acc_emp",
        amount=Money(100_000, "CNY"),
        write_off_total=Money.zero("CNY"),
        write_offs=(),
        created_at=created_at,
        updated_at=created_at,
        payee_card_no="6222020202020202",
    )
    if status == "bank_failed":
        b = replace(b, bank_failure_evidence=BankFailureEvidence.DEFINITE_REFUSAL)
    await SqlBills(conn).add(b)


async def payout(
    conn: AsyncConnection,
    id: str,
    app_id: str,
    created_at: datetime,
    status: str = "pending_review",
    serial_no: str | None = None,
) -> None:
    a = check_item(
        {
            "serial_no": serial_no or f"S-{id}",
            "order_serial_no": "O-1",
            "payee_account": "zhangsan@example.com",
            "amount": "12.30",
            "ext": {"type": 2, "pay_method": 1, "reason": "flight cancelled", "payee_name": "张三"},
        }
    )
    assert isinstance(a, PayoutApplication), a
    status_ = PayoutStatus(status)
    await SqlPayouts(conn).add(Payout(id, app_id, a, a.fingerprint(), status_, created_at, created_at))


async def lease_order(
    conn: AsyncConnection,
    id: str,
    app_id: str,
    created_at: datetime,
    status: str = "synced",
    period_status: str | None = None,
) -> None:
    body = LeaseOrderBody.model_validate(
        {
            "out_order_no": f"RENT-{id}",
            "buyer_id": "2088102146225135",
            "title": "iPhone 16 租赁",
            "total_amount": "200.00",
            "period_count": 2,
            "periods": [
                {"due_date": "2026-12-01", "amount": "100.00"},
                {"due_date": "2027-01-01", "amount": "100.00"},
            ],
        }
    )
    order = LeaseOrder.new(id, app_id, check_order(body), "hash", "ant_lease", created_at)
    await SqlLeaseOrders(conn).add(replace(order, status=OrderStatus(status)))
    if period_status is not None:
        await conn.execute(
            lease_periods.update()
            .where(lease_periods.c.order_id == id, lease_periods.c.period_no == 1)
            .values(status=period_status)
        )


async def notification(
    conn: AsyncConnection,
    id: str,
    app_id: str,
    created_at: datetime,
    status: str = "delivered",
    attempts: int = 0,
    event_type: str = "payment.succeeded",
) -> None:
    row: dict[str, Any] = outbox_row(id, app_id, event_type, f"pay_{id}", {"payment": {"id": id}}, created_at)
    row.update(status=status, attempts=attempts)
    await conn.execute(t.outbox.insert().values(**row))


SEEDS: dict[str, Seed] = {
    "payments": payment,
    "bills": bill,
    "payouts": payout,
    "lease/orders": lease_order,
    "notifications": notification,
}

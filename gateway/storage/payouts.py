"""Payout storage: the row mapping and the repository bound to a unit of work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.money import Money
from core.payouts.model import (
    BusinessType,
    PayBackType,
    PayMethod,
    Payout,
    PayoutApplication,
    PayoutStatus,
    PayoutType,
    Review,
    bank_from_json,
    payment_out_request_no,
    voucher_from_json,
)
from gateway.storage.payout_tables import payouts as table
from gateway.storage.tables import payments
from ports.storage import ConcurrentUpdate, DuplicateRequest


def _values(p: Payout) -> dict[str, Any]:
    """The payout's row: its application's plain data (the amount in minor units), its state."""
    application = p.application.canonical()
    del application["amount"]
    return {
        **application,
        "amount_minor": p.application.amount.minor,
        "id": p.id,
        "app_id": p.app_id,
        "source_platform": p.source_platform,
        "request_hash": p.request_hash,
        "trace_id": p.trace_id,
        "status": p.status.value,
        "review": None if p.review is None else p.review.to_json(),
        "payment_id": p.payment_id,
        "channel": p.channel,
        "channel_ref": p.channel_ref,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "finished_at": p.finished_at,
        "created_day": p.created_at.date().isoformat(),
    }


def row_to_payout(row: sa.Row[Any]) -> Payout:
    m = row._mapping
    application = PayoutApplication(
        serial_no=m["serial_no"],
        order_serial_no=m["order_serial_no"],
        payee_account=m["payee_account"],
        amount=Money(m["amount_minor"], m["currency"]),
        type=PayoutType(m["type"]),
        pay_method=PayMethod(m["pay_method"]),
        pay_back_type=PayBackType(m["pay_back_type"]),
        reason=m["reason"],
        business_type=BusinessType(m["business_type"]),
        send_sms=m["send_sms"],
        payee_name=m["payee_name"],
        insurance_merchant=m["insurance_merchant"],
        creator=m["creator"],
        bank=bank_from_json(m["bank"]),
        voucher=voucher_from_json(m["voucher"]),
        sms_phone=m["sms_phone"],
        pay_type=m["pay_type"],
    )
    return Payout(
        id=m["id"],
        app_id=m["app_id"],
        application=application,
        request_hash=m["request_hash"],
        status=PayoutStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        source_platform=m["source_platform"],
        trace_id=m["trace_id"],
        review=Review.from_json(m["review"]),
        payment_id=m["payment_id"],
        channel=m["channel"],
        channel_ref=m["channel_ref"],
        failure_code=m["failure_code"],
        failure_message=m["failure_message"],
        finished_at=m["finished_at"],
    )


class SqlPayouts:
    """Payouts on the connection (and transaction) of one unit of work."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, payout: Payout) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(table.insert().values(**_values(payout)))
        except IntegrityError as exc:
            raise DuplicateRequest(payout.serial_no) from exc

    async def _one(self, stmt: sa.Select[Any]) -> Payout | None:
        row = (await self.conn.execute(stmt)).first()
        return row_to_payout(row) if row else None

    async def get(self, payout_id: str) -> Payout | None:
        return await self._one(sa.select(table).where(table.c.id == payout_id))

    async def get_for_update(self, payout_id: str) -> Payout | None:
        stmt = sa.select(table).where(table.c.id == payout_id)
        if self.conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        return await self._one(stmt)

    async def by_serial_no(self, app_id: str, serial_no: str) -> Payout | None:
        return await self._one(
            sa.select(table).where(table.c.app_id == app_id, table.c.serial_no == serial_no)
        )

    async def save(self, payout: Payout, *, expected_status: PayoutStatus) -> None:
        values = _values(payout)
        for key in ("id", "app_id", "serial_no", "request_hash", "created_at", "created_day"):
            values.pop(key)
        result = await self.conn.execute(
            table.update()
            .where(table.c.id == payout.id, table.c.status == expected_status.value)
            .values(**values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(payout.id)

    async def approved_unpaid(self, approved_before: datetime, limit: int) -> list[Payout]:
        # the payment's out_request_no is the payout id behind a fixed prefix (the model's rule)
        prefix = payment_out_request_no("")
        payment = (
            sa.select(payments.c.id)
            .where(
                payments.c.app_id == table.c.app_id,
                payments.c.out_request_no == sa.literal(prefix) + table.c.id,
            )
            .exists()
        )
        stmt = (
            sa.select(table)
            .where(
                table.c.status == PayoutStatus.APPROVED.value,
                table.c.updated_at <= approved_before,
                ~payment,
            )
            .order_by(table.c.updated_at)
            .limit(limit)
        )
        return [row_to_payout(row) for row in (await self.conn.execute(stmt)).all()]

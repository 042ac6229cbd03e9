"""Lease order storage: the repository bound to a unit of work, mapping rows to the core's
LeaseOrder (with its periods) and back, and the selections the lease worker makes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.lease.order import LeaseOrder
from core.lease.parts import Agreement, Closure, Contract, Plan, RentPeriod, UnsignRefusal
from core.lease.status import (
    AgreementStatus,
    CancelReason,
    ContractStatus,
    OrderStatus,
    PeriodStatus,
    PlanStatus,
)
from core.money import Money
from gateway.storage.lease_tables import lease_orders as orders
from gateway.storage.lease_tables import lease_periods as periods
from ports.lease import StaleAttempt
from ports.storage import ConcurrentUpdate, DuplicateRequest


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _at(raw: Any) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


def contract_json(c: Contract) -> dict[str, Any]:
    return {
        "status": c.status.value,
        "template_id": c.template_id,
        "contract_no": c.contract_no,
        "sign_url": c.sign_url,
        "party_urls": dict(c.party_urls),
        "required_parties": list(c.required_parties),
        "signed_parties": list(c.signed_parties),
        "attempts": c.attempts,
        "signed_at": _iso(c.signed_at),
        "finalised_at": _iso(c.finalised_at),
        "failure_code": c.failure_code,
        "rent_before_finalise": c.rent_before_finalise,
    }


def contract_from(data: Mapping[str, Any]) -> Contract:
    return Contract(
        status=ContractStatus(data["status"]),
        template_id=data.get("template_id"),
        contract_no=data.get("contract_no"),
        sign_url=data.get("sign_url"),
        party_urls=dict(data.get("party_urls") or {}),
        required_parties=tuple(data.get("required_parties") or ()),
        signed_parties=tuple(data.get("signed_parties") or ()),
        attempts=int(data.get("attempts") or 0),
        signed_at=_at(data.get("signed_at")),
        finalised_at=_at(data.get("finalised_at")),
        failure_code=data.get("failure_code"),
        rent_before_finalise=bool(data.get("rent_before_finalise", False)),
    )


def agreement_json(a: Agreement) -> dict[str, Any]:
    return {
        "status": a.status.value,
        "attempt": a.attempt,
        "external_agreement_no": a.external_agreement_no,
        "agreement_no": a.agreement_no,
        "sign_url": a.sign_url,
        "alipay_user_id": a.alipay_user_id,
        "signed_at": _iso(a.signed_at),
        "unsigned_at": _iso(a.unsigned_at),
        "unsign_reason": a.unsign_reason,
        "unsign_refusals": [r.to_json() for r in a.unsign_refusals],
    }


def agreement_from(data: Mapping[str, Any]) -> Agreement:
    return Agreement(
        status=AgreementStatus(data["status"]),
        attempt=int(data.get("attempt") or 0),
        external_agreement_no=data.get("external_agreement_no"),
        agreement_no=data.get("agreement_no"),
        sign_url=data.get("sign_url"),
        alipay_user_id=data.get("alipay_user_id"),
        signed_at=_at(data.get("signed_at")),
        unsigned_at=_at(data.get("unsigned_at")),
        unsign_reason=data.get("unsign_reason"),
        unsign_refusals=tuple(UnsignRefusal.from_json(r) for r in data.get("unsign_refusals") or ()),
    )


def plan_json(p: Plan) -> dict[str, Any]:
    return {
        "status": p.status.value,
        "cancel_reason": p.cancel_reason.value if p.cancel_reason else None,
        "cancel_note": p.cancel_note,
        "cancelled_at": _iso(p.cancelled_at),
    }


def plan_from(data: Mapping[str, Any]) -> Plan:
    reason = data.get("cancel_reason")
    return Plan(
        PlanStatus(data["status"]),
        CancelReason(reason) if reason else None,
        data.get("cancel_note"),
        _at(data.get("cancelled_at")),
    )


def closure_json(c: Closure | None) -> dict[str, Any] | None:
    return None if c is None else {"reason": c.reason, "basis": c.basis, "at": c.at.isoformat()}


def closure_from(data: Mapping[str, Any] | None) -> Closure | None:
    if not data:
        return None
    return Closure(data["reason"], data["basis"], datetime.fromisoformat(data["at"]))


def _order_values(o: LeaseOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "app_id": o.app_id,
        "out_order_no": o.out_order_no,
        "request_hash": o.request_hash,
        "channel": o.channel,
        "channel_order_id": o.channel_order_id,
        "buyer_id": o.buyer_id,
        "title": o.title,
        "total_minor": o.total.minor,
        "currency": o.total.currency,
        "period_count": len(o.periods),
        "status": o.status.value,
        "contract_status": o.contract.status.value,
        "agreement_status": o.agreement.status.value,
        "plan_status": o.plan.status.value,
        "contract": contract_json(o.contract),
        "agreement": agreement_json(o.agreement),
        "plan": plan_json(o.plan),
        "closure": closure_json(o.closure),
        "failure_code": o.failure_code,
        "failure_message": o.failure_message,
        "version": o.version,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    }


def _period_values(order_id: str, p: RentPeriod) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "period_no": p.no,
        "due_date": p.due_date.isoformat(),
        "amount_minor": p.amount.minor,
        "currency": p.amount.currency,
        "status": p.status.value,
        "attempts": p.attempts,
        "payment_id": p.payment_id,
        "last_failure_code": p.last_failure_code,
        "last_failure_message": (p.last_failure_message or "")[:512] or None,
        "next_attempt_at": p.next_attempt_at,
        "attempt_started_at": p.attempt_started_at,
        "paid_at": p.paid_at,
        "trade_no": p.trade_no,
    }


def row_to_period(row: sa.Row[Any]) -> RentPeriod:
    m = row._mapping
    return RentPeriod(
        no=m["period_no"],
        due_date=date.fromisoformat(m["due_date"]),
        amount=Money(m["amount_minor"], m["currency"]),
        status=PeriodStatus(m["status"]),
        attempts=m["attempts"],
        payment_id=m["payment_id"],
        last_failure_code=m["last_failure_code"],
        last_failure_message=m["last_failure_message"],
        next_attempt_at=m["next_attempt_at"],
        attempt_started_at=m["attempt_started_at"],
        paid_at=m["paid_at"],
        trade_no=m["trade_no"],
    )


def row_to_lease_order(row: sa.Row[Any], rent_plan: tuple[RentPeriod, ...]) -> LeaseOrder:
    m = row._mapping
    return LeaseOrder(
        id=m["id"],
        app_id=m["app_id"],
        out_order_no=m["out_order_no"],
        request_hash=m["request_hash"],
        channel=m["channel"],
        buyer_id=m["buyer_id"],
        title=m["title"],
        total=Money(m["total_minor"], m["currency"]),
        periods=rent_plan,
        status=OrderStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        contract=contract_from(m["contract"]),
        agreement=agreement_from(m["agreement"]),
        plan=plan_from(m["plan"]),
        channel_order_id=m["channel_order_id"],
        failure_code=m["failure_code"],
        failure_message=m["failure_message"],
        closure=closure_from(m["closure"]),
        version=m["version"],
    )


_COLLECTABLE = sa.and_(
    orders.c.status == OrderStatus.SYNCED.value,
    orders.c.plan_status == PlanStatus.ACTIVE.value,
    orders.c.agreement_status == AgreementStatus.SIGNED.value,
    orders.c.contract_status.in_((ContractStatus.SIGNED.value, ContractStatus.FINALISED.value)),
)


class SqlLeaseOrders:
    """Lease orders on the connection (and transaction) of one unit of work."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, order: LeaseOrder) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(orders.insert().values(**_order_values(order)))
                await self.conn.execute(
                    periods.insert(), [_period_values(order.id, p) for p in order.periods]
                )
        except IntegrityError as exc:
            raise DuplicateRequest(order.out_order_no) from exc

    async def _load(self, stmt: sa.Select[Any]) -> LeaseOrder | None:
        row = (await self.conn.execute(stmt)).first()
        if row is None:
            return None
        rows = (
            await self.conn.execute(
                sa.select(periods).where(periods.c.order_id == row.id).order_by(periods.c.period_no)
            )
        ).all()
        return row_to_lease_order(row, tuple(row_to_period(r) for r in rows))

    async def get(self, order_id: str) -> LeaseOrder | None:
        return await self._load(sa.select(orders).where(orders.c.id == order_id))

    async def get_for_update(self, order_id: str) -> LeaseOrder | None:
        stmt = sa.select(orders).where(orders.c.id == order_id)
        if self.conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        return await self._load(stmt)

    async def by_out_order_no(self, app_id: str, out_order_no: str) -> LeaseOrder | None:
        return await self._load(
            sa.select(orders).where(orders.c.app_id == app_id, orders.c.out_order_no == out_order_no)
        )

    async def save(self, order: LeaseOrder, *, expected_version: int) -> LeaseOrder:
        values = _order_values(order)
        for key in ("id", "app_id", "out_order_no", "request_hash", "created_at", "period_count"):
            values.pop(key)
        values["version"] = expected_version + 1
        result = await self.conn.execute(
            orders.update()
            .where(orders.c.id == order.id, orders.c.version == expected_version)
            .values(**values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(order.id)
        for p in order.periods:
            row = _period_values(order.id, p)
            del row["order_id"], row["period_no"], row["due_date"], row["amount_minor"], row["currency"]
            await self.conn.execute(
                periods.update()
                .where(periods.c.order_id == order.id, periods.c.period_no == p.no)
                .values(**row)
            )
        return replace(order, version=expected_version + 1)

    async def with_due_periods(self, now: datetime, limit: int) -> list[str]:
        first_due = sa.func.min(periods.c.next_attempt_at)
        stmt = (
            sa.select(periods.c.order_id)
            .join(orders, orders.c.id == periods.c.order_id)
            .where(
                _COLLECTABLE,
                periods.c.status.in_((PeriodStatus.PENDING.value, PeriodStatus.FAILED.value)),
                periods.c.next_attempt_at.is_not(None),
                periods.c.next_attempt_at <= now,
            )
            .group_by(periods.c.order_id)
            .order_by(first_due)
            .limit(limit)
        )
        return [r.order_id for r in (await self.conn.execute(stmt)).all()]

    async def unsynced(self, before: datetime, limit: int) -> list[str]:
        stmt = (
            sa.select(orders.c.id)
            .where(orders.c.status == OrderStatus.CREATED.value, orders.c.created_at <= before)
            .order_by(orders.c.created_at)
            .limit(limit)
        )
        return [r.id for r in (await self.conn.execute(stmt)).all()]

    async def ready_to_finalise(self, limit: int) -> list[str]:
        stmt = (
            sa.select(orders.c.id)
            .where(
                orders.c.status == OrderStatus.SYNCED.value,
                orders.c.contract_status == ContractStatus.SIGNED.value,
                orders.c.agreement_status == AgreementStatus.SIGNED.value,
            )
            .order_by(orders.c.updated_at)
            .limit(limit)
        )
        return [r.id for r in (await self.conn.execute(stmt)).all()]

    async def claimed(self, before: datetime, limit: int) -> list[str]:
        stmt = (
            sa.select(orders.c.id)
            .where(
                sa.or_(
                    orders.c.status == OrderStatus.CLOSING.value,
                    orders.c.plan_status == PlanStatus.CANCELLING.value,
                    orders.c.agreement_status == AgreementStatus.UNSIGNING.value,
                ),
                orders.c.updated_at <= before,
            )
            .order_by(orders.c.updated_at)
            .limit(limit)
        )
        return [r.id for r in (await self.conn.execute(stmt)).all()]

    async def stale_attempts(self, before: datetime, limit: int) -> list[StaleAttempt]:
        stmt = (
            sa.select(
                periods.c.order_id, periods.c.period_no, periods.c.attempts, periods.c.attempt_started_at
            )
            .where(
                periods.c.status == PeriodStatus.COLLECTING.value,
                periods.c.attempt_started_at <= before,
            )
            .order_by(periods.c.attempt_started_at)
            .limit(limit)
        )
        return [
            StaleAttempt(r.order_id, r.period_no, r.attempts, r.attempt_started_at)
            for r in (await self.conn.execute(stmt)).all()
        ]

"""The in-memory lease order repository (ports.lease.LeaseRepository), with the SQL one's version
check and the same selections of due, unsynced, finalisable and stale orders."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from core.lease.order import LeaseOrder
from core.lease.status import AgreementStatus, ContractStatus, OrderStatus, PeriodStatus, PlanStatus
from ports.lease import LeaseRepository, StaleAttempt
from ports.storage import ConcurrentUpdate, DuplicateRequest

if TYPE_CHECKING:
    from fakes.storage import FakeState


def _collectable(o: LeaseOrder) -> bool:
    return (
        o.status is OrderStatus.SYNCED
        and o.plan.status is PlanStatus.ACTIVE
        and o.agreement.status is AgreementStatus.SIGNED
        and o.contract.status in (ContractStatus.SIGNED, ContractStatus.FINALISED)
    )


class FakeLeaseOrders(LeaseRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, order: LeaseOrder) -> None:
        if order.id in self.state.lease_orders or await self.by_out_order_no(
            order.app_id, order.out_order_no
        ):
            raise DuplicateRequest(order.out_order_no)
        self.state.lease_orders[order.id] = order

    async def get(self, order_id: str) -> LeaseOrder | None:
        return self.state.lease_orders.get(order_id)

    async def get_for_update(self, order_id: str) -> LeaseOrder | None:
        return self.state.lease_orders.get(order_id)

    async def by_out_order_no(self, app_id: str, out_order_no: str) -> LeaseOrder | None:
        found = (
            o
            for o in self.state.lease_orders.values()
            if (o.app_id, o.out_order_no) == (app_id, out_order_no)
        )
        return next(found, None)

    async def save(self, order: LeaseOrder, *, expected_version: int) -> LeaseOrder:
        if self.state.races.lost("lease_orders"):
            raise ConcurrentUpdate(order.id)
        stored = self.state.lease_orders.get(order.id)
        if stored is None or stored.version != expected_version:
            raise ConcurrentUpdate(order.id)
        saved = replace(order, version=expected_version + 1)
        self.state.lease_orders[order.id] = saved
        return saved

    async def with_due_periods(self, now: datetime, limit: int) -> list[str]:
        first_due: dict[str, datetime] = {}
        for o in filter(_collectable, self.state.lease_orders.values()):
            due = [
                p.next_attempt_at
                for p in o.periods
                if p.status in (PeriodStatus.PENDING, PeriodStatus.FAILED)
                and p.next_attempt_at is not None
                and p.next_attempt_at <= now
            ]
            if due:
                first_due[o.id] = min(due)
        return sorted(first_due, key=first_due.__getitem__)[:limit]

    async def unsynced(self, before: datetime, limit: int) -> list[str]:
        orders = [
            o
            for o in self.state.lease_orders.values()
            if o.status is OrderStatus.CREATED and o.created_at <= before
        ]
        return [o.id for o in sorted(orders, key=lambda o: o.created_at)][:limit]

    async def ready_to_finalise(self, limit: int) -> list[str]:
        orders = [
            o
            for o in self.state.lease_orders.values()
            if o.status is OrderStatus.SYNCED
            and o.contract.status is ContractStatus.SIGNED
            and o.agreement.status is AgreementStatus.SIGNED
        ]
        return [o.id for o in sorted(orders, key=lambda o: o.updated_at)][:limit]

    async def claimed(self, before: datetime, limit: int) -> list[str]:
        orders = [
            o
            for o in self.state.lease_orders.values()
            if (
                o.status is OrderStatus.CLOSING
                or o.plan.status is PlanStatus.CANCELLING
                or o.agreement.status is AgreementStatus.UNSIGNING
            )
            and o.updated_at <= before
        ]
        return [o.id for o in sorted(orders, key=lambda o: o.updated_at)][:limit]

    async def stale_attempts(self, before: datetime, limit: int) -> list[StaleAttempt]:
        stale = [
            StaleAttempt(o.id, p.no, p.attempts, p.attempt_started_at)
            for o in self.state.lease_orders.values()
            for p in o.periods
            if p.status is PeriodStatus.COLLECTING
            and p.attempt_started_at is not None
            and p.attempt_started_at <= before
        ]
        return sorted(stale, key=lambda s: s.started_at)[:limit]

"""The lease orders as the use cases read and change them: a change is applied to the locked
order and saved under a version check (retried on a concurrent save), its event published to the
caller app from the same transaction; every step is written to the order's flow log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.errors import NotFound
from core.events import EventType
from core.lease.order import LeaseOrder
from core.usecases.lease.views import event_payload
from core.usecases.shared.book import WorkflowBook
from core.usecases.shared.conflicts import retry_on_conflict
from core.usecases.shared.outbox import publish as publish_event
from ports.storage import UnitOfWork

Change = Callable[[LeaseOrder, datetime], LeaseOrder]
"""A move of the order at a moment; returning the order itself means: nothing to change."""
EventOf = Callable[[LeaseOrder, LeaseOrder], EventType | None]
"""The event that a change from `before` to `after` publishes, if any."""


def on_move(event: EventType, state_of: Callable[[LeaseOrder], object], to: object | None = None) -> EventOf:
    """`event` when a change moved `state_of(order)` (to `to`, if given); otherwise none."""

    def event_of(before: LeaseOrder, after: LeaseOrder) -> EventType | None:
        now = state_of(after)
        return event if now is not state_of(before) and (to is None or now is to) else None

    return event_of


def contract_status(order: LeaseOrder) -> object:
    return order.contract.status


def agreement_status(order: LeaseOrder) -> object:
    return order.agreement.status


async def publish(uow: UnitOfWork, order: LeaseOrder, event: EventType, at: datetime, **extra: Any) -> None:
    """A `lease.*` event to the caller app, from the transaction that made the change."""
    await publish_event(uow, order.app_id, event, order.id, event_payload(order, **extra), at=at)


def found(order: LeaseOrder | None, order_id: str) -> LeaseOrder:
    if order is None:
        raise NotFound(f"lease order {order_id} does not exist", code="LEASE_ORDER_NOT_FOUND")
    return order


class LeaseBook(WorkflowBook):
    """Reads lease orders, applies changes to them, and records their flow log."""

    async def find(self, order_id: str) -> LeaseOrder | None:
        async with self.reads() as uow:
            return await uow.lease_orders.get(order_id)

    async def get(self, order_id: str, app_id: str | None = None) -> LeaseOrder:
        """The order; with `app_id`, only if that app owns it (others' are a 404)."""
        order = await self.find(order_id)
        if order is not None and app_id is not None and order.app_id != app_id:
            order = None
        return found(order, order_id)

    async def by_out_order_no(self, app_id: str, out_order_no: str) -> LeaseOrder | None:
        async with self.reads() as uow:
            return await uow.lease_orders.by_out_order_no(app_id, out_order_no)

    async def change(self, order_id: str, change: Change, event: EventOf | None = None) -> LeaseOrder:
        """Apply `change` to the locked order and save it; publish `event(before, after)`."""

        async def change_once() -> LeaseOrder:
            now = self.clock()
            async with self.uow() as uow:
                repo = uow.lease_orders
                current = found(await repo.get_for_update(order_id), order_id)
                moved = change(current, now)
                if moved is current:
                    return current
                saved = await repo.save(moved, expected_version=current.version)
                name = event(current, saved) if event is not None else None
                if name is not None:
                    await publish(uow, saved, name, now)
                await uow.commit()
                return saved

        return await retry_on_conflict(change_once, order_id)

"""The events a bill sends its caller app, through the outbox, in the transaction that moved it."""

from __future__ import annotations

from datetime import datetime

from core.bills.model import Bill
from core.events import EventType
from core.usecases.bills.views import bill_view
from core.usecases.shared.outbox import publish as publish_event
from ports.storage import UnitOfWork


async def publish(uow: UnitOfWork, bill: Bill, event: EventType, at: datetime) -> None:
    """`bill.completed` / `bill.failed` to the caller app, in the transaction that moved the bill."""
    await publish_event(uow, bill.app_id, event, bill.id, {"bill": bill_view(bill)}, at=at)

"""Read model of the lists (operators' and callers'): one page of a workflow's entities at a time,
newest first, through the one keyset page reader (`pages.read_page`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.bills.model import Bill
from core.lease.order import LeaseOrder
from core.payments.model import Payment
from core.payouts.model import Payout
from gateway.storage.bills import row_to_bill
from gateway.storage.payouts import row_to_payout
from gateway.storage.queries.bill_list import BillFilter
from gateway.storage.queries.lease_list import LeaseOrderFilter, orders_of
from gateway.storage.queries.notification_list import NotificationFilter
from gateway.storage.queries.outbox import outbox_json
from gateway.storage.queries.pages import Listing, PageRequest, read_page
from gateway.storage.queries.payment_list import PaymentFilter
from gateway.storage.queries.payout_list import PayoutFilter
from gateway.storage.rows import payment_from_mapping

T = TypeVar("T")


@dataclass(frozen=True)
class Listed(Generic[T]):
    """The items of one page, newest first, and whether more lie beyond it."""

    items: list[T]
    has_more: bool


@dataclass(frozen=True)
class ListedPayment:
    """A payment of a list, with what only its row knows: whether its query was escalated."""

    payment: Payment
    escalated: bool


class ListQueries:
    """One page of payments, bills, payouts, lease orders or notifications. `app_scope`: the
    caller app whose rows alone the list may show (None: an operator's list, every app)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _page(self, listing: Listing, page: PageRequest, item: Callable[[sa.Row[Any]], T]) -> Listed[T]:
        async with self.engine.connect() as conn:
            found = await read_page(conn, listing, page)
        return Listed([item(row) for row in found.rows], found.has_more)

    async def payments(
        self, f: PaymentFilter, page: PageRequest, app_scope: str | None = None
    ) -> Listed[ListedPayment]:
        def item(row: sa.Row[Any]) -> ListedPayment:
            return ListedPayment(payment_from_mapping(row._mapping), bool(row.escalated))

        return await self._page(f.listing(app_scope), page, item)

    async def bills(self, f: BillFilter, page: PageRequest, app_scope: str | None = None) -> Listed[Bill]:
        return await self._page(f.listing(app_scope), page, row_to_bill)

    async def payouts(
        self, f: PayoutFilter, page: PageRequest, app_scope: str | None = None
    ) -> Listed[Payout]:
        return await self._page(f.listing(app_scope), page, row_to_payout)

    async def lease_orders(
        self, f: LeaseOrderFilter, page: PageRequest, app_scope: str | None = None
    ) -> Listed[LeaseOrder]:
        async with self.engine.connect() as conn:
            found = await read_page(conn, f.listing(app_scope), page)
            return Listed(await orders_of(conn, found.rows), found.has_more)

    async def notifications(self, f: NotificationFilter, page: PageRequest) -> Listed[dict[str, Any]]:
        """Deliveries as operators see them, each with the payload the app is sent."""
        return await self._page(f.listing(), page, lambda row: {**outbox_json(row), "payload": row.payload})

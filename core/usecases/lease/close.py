"""Closing a lease order (关闭订单), only on the seed's preconditions."""

from __future__ import annotations

from core.events import EventType
from core.flowlog import FlowNode
from core.lease.order import LeaseOrder
from core.lease.rules import close_basis
from core.lease.status import OrderStatus
from core.usecases.lease.book import LeaseBook, on_move
from core.usecases.lease.channel import LeaseChannelCalls


class LeaseClosing:
    """Closes an order when the lease is fulfilled, or the plan was cancelled for lease-to-sale
    or a successful return, and no deduction is in flight."""

    def __init__(self, book: LeaseBook, calls: LeaseChannelCalls) -> None:
        self.book = book
        self.calls = calls

    async def close(self, order_id: str, app_id: str, reason: str) -> LeaseOrder:
        """关闭订单, only on the seed's preconditions (checked before the channel is asked, and
        again on the locked order). Closing a closed order is harmless."""
        order = await self.book.get(order_id, app_id)
        if order.status is OrderStatus.CLOSED:
            return order
        close_basis(order)
        await self.calls.operate(order, "close order", self.calls.port(order).close_order(order, reason))
        closed = await self.book.change(
            order_id,
            lambda o, at: o if o.status is OrderStatus.CLOSED else o.closed(reason, at),
            on_move(EventType.LEASE_ORDER_CLOSED, lambda o: o.status),
        )
        self.book.record(
            order_id, FlowNode.FINAL_STATE, f"closed: {reason}", basis=closed.closure and closed.closure.basis
        )
        return closed

"""Closing a lease order (关闭订单), only on the seed's preconditions: claimed first, then asked
of the channel (core/usecases/lease/claims.py)."""

from __future__ import annotations

from core.events import EventType
from core.flowlog import FlowNode
from core.lease.order import LeaseOrder
from core.lease.rules import close_basis
from core.lease.status import OrderStatus
from core.usecases.lease.book import LeaseBook, on_move
from core.usecases.lease.channel import LeaseChannelCalls
from core.usecases.lease.claims import ClaimedMoves, close_move


class LeaseClosing:
    """Closes an order when the lease is fulfilled, or the plan was cancelled for lease-to-sale
    or a successful return, and no deduction is in flight; an order whose pre-order the channel
    refused is closed here alone (the channel holds nothing of it)."""

    def __init__(self, book: LeaseBook, calls: LeaseChannelCalls) -> None:
        self.book = book
        self.moves = ClaimedMoves(book, calls)

    async def close(self, order_id: str, app_id: str, reason: str) -> LeaseOrder:
        """关闭订单: the order is claimed `closing` (checked on the locked order: no deduction
        in flight, and none can start from now on), then the channel closes it. A refusal
        reopens the order; an unknown answer leaves it closing for the lease worker. Closing
        a closed order is harmless; closing a closing one asks the channel again."""
        order = await self.book.get(order_id, app_id)
        if order.status is OrderStatus.CLOSED:
            return order
        if order.status is OrderStatus.SYNC_FAILED:
            closed = await self.book.change(
                order_id,
                lambda o, at: o.closed(reason, at) if o.status is OrderStatus.SYNC_FAILED else o,
                on_move(EventType.LEASE_ORDER_CLOSED, lambda o: o.status),
            )
        elif order.status is OrderStatus.CLOSING:
            closed = await self.moves.settle(
                order, close_move(order.closure.reason if order.closure else reason)
            )
        else:
            close_basis(order)  # refused before anything is claimed or sent
            closed = await self.moves.run(order_id, lambda o, at: o.closing(reason, at), close_move(reason))
        self.book.trail.record(
            order_id,
            FlowNode.FINAL_STATE,
            message=f"closed: {reason}",
            basis=closed.closure and closed.closure.basis,
        )
        return closed

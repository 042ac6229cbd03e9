"""Lease orders: take the pre-order, sync it to the channel (同步前置订单), read it, and ask the
channel's view of it (查询订单信息)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.errors import IdempotencyConflict, NoRoute, NotFound
from core.flowlog import FlowNode
from core.ids import new_id
from core.lease.errors import ChannelOutcomeUnknown, ChannelRefused, LeaseStateConflict
from core.lease.order import LeaseOrder
from core.lease.request import LeaseOrderRequest, PreOrderInput, check_order
from core.lease.status import OrderStatus
from core.payments.model import request_fingerprint
from core.payments.routing import RouteRequest
from core.usecases.lease.book import LeaseBook
from core.usecases.lease.channel import LeaseChannelCalls
from core.usecases.lease.policy import LeasePolicy
from core.usecases.lease.views import channel_info_view
from core.usecases.payments.service import PaymentService
from ports.channels import Channel
from ports.lease import LEASE_EXTENSION, ORDER_FULL_INFO, LeaseChannelPort
from ports.storage import DuplicateRequest


class LeaseOrderService:
    """The pre-order and reading it. A pre-order is stored before the channel is asked, so a
    crash cannot lose it; the channel deduplicates on our order id, so syncing it again is safe."""

    def __init__(
        self, book: LeaseBook, calls: LeaseChannelCalls, payments: PaymentService, policy: LeasePolicy
    ) -> None:
        self.book = book
        self.calls = calls
        self.payments = payments
        self.policy = policy

    async def get(self, order_id: str, app_id: str | None = None) -> LeaseOrder:
        """The order; with `app_id`, only if that app owns it (others' are a 404)."""
        return await self.book.get(order_id, app_id)

    async def by_out_order_no(self, app_id: str, out_order_no: str) -> LeaseOrder:
        order = await self.book.by_out_order_no(app_id, out_order_no)
        if order is None:
            raise NotFound(f"no lease order with out_order_no {out_order_no!r}", code="LEASE_ORDER_NOT_FOUND")
        return order

    async def channel_info(self, order_id: str, app_id: str) -> dict[str, Any]:
        """查询订单信息: the channel's view of the order (query type orderFullInfo)."""
        order = await self.book.get(order_id, app_id)
        if order.status is OrderStatus.CREATED or order.status is OrderStatus.SYNC_FAILED:
            raise LeaseStateConflict(
                f"the order is {order.status.value}: the channel does not hold it", field="status"
            )
        port = self.calls.port(order)
        answer = await self.calls.operate(order, "query order", port.query_order(order, ORDER_FULL_INFO))
        return channel_info_view(order, answer.data)

    async def create(self, app_id: str, body: PreOrderInput) -> tuple[LeaseOrder, bool]:
        """Store the pre-order, then sync it to the channel. A repeat of the same body answers
        the stored order (and syncs it again if the channel never confirmed it)."""
        request = check_order(body)
        request_hash = request_fingerprint(request.canonical())
        existing = await self.book.by_out_order_no(app_id, request.out_order_no)
        if existing is not None:
            return await self._repeat(existing, request_hash), False
        channel = self._lease_channel(request)
        order = LeaseOrder.new(new_id("lse"), app_id, request, request_hash, channel.code, self.book.clock())
        try:
            async with self.book.uow() as uow:
                await uow.lease_orders.add(order)
                await uow.commit()
        except DuplicateRequest:
            winner = await self.book.by_out_order_no(app_id, request.out_order_no)
            assert winner is not None, "a duplicate insert implies a stored order"
            return await self._repeat(winner, request_hash), False
        self.book.trail.record(
            order.id,
            FlowNode.ACCEPTED,
            message="lease order received",
            out_order_no=order.out_order_no,
            periods=len(order.periods),
            total=str(order.total),
            channel=channel.code,
        )
        return await self.sync(order.id), True

    def _lease_channel(self, request: LeaseOrderRequest) -> Channel:
        """The channel the lease pay method routes to: it must offer lease operations and signing."""
        decision = self.payments.router.select(
            RouteRequest(
                self.policy.pay_method,
                request.total.decimal,
                request.total.currency,
                None,
                self.policy.business_type,
                submitter="lease",
            )
        )
        channel = self.calls.channel(decision.channel)
        if (
            not isinstance(channel.extensions.get(LEASE_EXTENSION), LeaseChannelPort)
            or channel.signing is None
        ):
            raise NoRoute(
                f"pay method {self.policy.pay_method!r} routes to {channel.code}, "
                "which offers no lease operations",
                field="pay_method",
            )
        return channel

    async def _repeat(self, existing: LeaseOrder, request_hash: str) -> LeaseOrder:
        if existing.request_hash != request_hash:
            raise IdempotencyConflict(
                f"out_order_no {existing.out_order_no!r} was already used with another order",
                field="out_order_no",
            )
        if existing.status is OrderStatus.CREATED:
            return await self.sync(existing.id)
        return existing

    async def sync(self, order_id: str) -> LeaseOrder:
        """Send the pre-order (idempotent at the channel on our order id). An unknown answer
        leaves it `created`: the worker, or a repeated request, sends it again."""
        order = await self.book.get(order_id)
        if order.status is not OrderStatus.CREATED:
            return order
        try:
            answer = await self.calls.operate(
                order, "sync pre-order", self.calls.port(order).sync_order(order)
            )
        except ChannelRefused as exc:
            refused = exc
            return await self.book.change(order_id, lambda o, at: _sync_failed(o, refused, at))
        except ChannelOutcomeUnknown:
            return order
        channel_order_id = answer.data.get("channel_order_id")
        return await self.book.change(
            order_id, lambda o, at: o.synced(str(channel_order_id) if channel_order_id else None, at)
        )


def _sync_failed(order: LeaseOrder, refused: ChannelRefused, at: datetime) -> LeaseOrder:
    if order.status is not OrderStatus.CREATED:
        return order
    return order.sync_failed(refused.code, refused.message, at)

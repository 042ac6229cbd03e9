"""Calls to a lease order's channel: its lease operations and its signing port, each with a
timeout (a timeout or a crash of the call is an unknown answer), logged in the order's flow log,
its exchanges kept, and a refusal or an unknown answer raised."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.errors import NoRoute
from core.flowlog import FlowNode, FlowOutcome
from core.lease.errors import ChannelOutcomeUnknown, ChannelRefused
from core.lease.order import LeaseOrder
from core.usecases.lease.book import LeaseBook
from core.usecases.payments.service import PaymentService
from core.usecases.shared.channel_calls import call_channel
from ports.channels import Channel, ChannelStatus, Exchange, SigningPort, SigningResult
from ports.lease import LEASE_EXTENSION, LeaseAnswer, LeaseChannelPort

T = TypeVar("T")


def raise_unless_done(status: ChannelStatus, code: str | None, message: str | None, operation: str) -> None:
    """A refusal is ChannelRefused, an unknown answer ChannelOutcomeUnknown; else it is done."""
    if status is ChannelStatus.FAILED:
        raise ChannelRefused(
            f"the channel refused {operation}: {message or code}", code=code or "CHANNEL_REFUSED"
        )
    if status is ChannelStatus.UNKNOWN:
        raise ChannelOutcomeUnknown(
            f"{operation}: the channel's answer is not known ({code}); the operation may be repeated"
        )


def _answered(operation: str, status: ChannelStatus, code: str | None) -> str:
    return f"{operation}: {status.value}" + (f" {code}" if code else "")


def unknown_signing(code: str, message: str) -> SigningResult:
    return SigningResult(ChannelStatus.UNKNOWN, code=code, message=message)


class LeaseChannelCalls:
    """Asks an order's channel (the one it was routed to) and logs what it said."""

    def __init__(self, book: LeaseBook, payments: PaymentService, *, timeout: float = 30.0) -> None:
        self.book = book
        self.payments = payments
        self.timeout = timeout

    def channel(self, code: str) -> Channel:
        channel = self.payments.channels.get(code)
        if channel is None:
            raise NoRoute(f"channel {code} is not installed", field="channel")
        return channel

    def port(self, order: LeaseOrder) -> LeaseChannelPort:
        port = self.channel(order.channel).extensions.get(LEASE_EXTENSION)
        if not isinstance(port, LeaseChannelPort):
            raise NoRoute(f"channel {order.channel} offers no lease operations", field="channel")
        return port

    def signing(self, order: LeaseOrder) -> SigningPort:
        signing = self.channel(order.channel).signing
        if signing is None:
            raise NoRoute(f"channel {order.channel} has no signing port", field="channel")
        return signing

    async def ask(self, call: Awaitable[T], unknown: Callable[[str, str], T]) -> T:
        """A channel call with a timeout; a timeout or a crash of the call is `unknown`."""
        return await call_channel(call, timeout=self.timeout, unknown=unknown, what="lease channel call")

    def sent(self, order: LeaseOrder, operation: str) -> None:
        self.book.trail.record(
            order.id,
            FlowNode.CHANNEL_REQUEST,
            message=f"{operation} sent",
            outcome=FlowOutcome.PENDING,
            operation=operation,
        )

    async def operate(self, order: LeaseOrder, operation: str, call: Awaitable[LeaseAnswer]) -> LeaseAnswer:
        """Run a lease operation, log it, keep its exchanges; raise on refusal or unknown."""
        self.sent(order, operation)
        answer = await self.ask(call, lambda code, msg: LeaseAnswer(ChannelStatus.UNKNOWN, code, msg))
        await self.keep_exchanges(order, answer.exchanges)
        ok = answer.status is ChannelStatus.SUCCEEDED
        self.book.trail.record(
            order.id,
            FlowNode.CHANNEL_ANSWER,
            message=_answered(operation, answer.status, answer.code),
            outcome=FlowOutcome.OK if ok else FlowOutcome.FAILED,
            operation=operation,
            code=answer.code,
            channel_message=answer.message,
        )
        raise_unless_done(answer.status, answer.code, answer.message, operation)
        return answer

    async def sign(self, order: LeaseOrder, operation: str, call: Awaitable[SigningResult]) -> SigningResult:
        """Start a signing (a URL for the user): PROCESSING is its success."""
        self.sent(order, operation)
        result = await self.ask(call, unknown_signing)
        await self.keep_exchanges(order, result.exchanges)
        self.book.trail.record(
            order.id,
            FlowNode.CHANNEL_ANSWER,
            message=_answered(operation, result.status, result.code),
            outcome=FlowOutcome.FAILED if result.status is ChannelStatus.FAILED else FlowOutcome.OK,
            operation=operation,
            code=result.code,
            reference=result.agreement_ref,
        )
        raise_unless_done(
            ChannelStatus.SUCCEEDED if result.status is ChannelStatus.PROCESSING else result.status,
            result.code,
            result.message,
            operation,
        )
        return result

    async def query_signing(self, order: LeaseOrder, call: Awaitable[SigningResult]) -> SigningResult:
        """Ask where a withholding signing stands; any answer is returned, none is raised."""
        self.book.trail.record(
            order.id, FlowNode.CHANNEL_REQUEST, message="withholding query sent", outcome=FlowOutcome.PENDING
        )
        result = await self.ask(call, unknown_signing)
        await self.keep_exchanges(order, result.exchanges)
        self.book.trail.record(
            order.id,
            FlowNode.QUERY_ANSWER,
            message=_answered("withholding query", result.status, result.code),
            outcome=FlowOutcome.OK if result.status is ChannelStatus.SUCCEEDED else FlowOutcome.PENDING,
            code=result.code,
            agreement_no=result.agreement_ref,
        )
        return result

    async def keep_exchanges(self, order: LeaseOrder, exchanges: tuple[Exchange, ...]) -> None:
        if not exchanges:
            return
        async with self.book.uow() as uow:
            await uow.record_exchanges(order.id, order.channel, exchanges, at=self.book.clock())
            await uow.commit()

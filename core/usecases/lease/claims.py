"""Close, cancel-plan and unsign in three steps, so the channel and the platform never disagree
(issue 11 item 8): the local state is claimed first (a conditional move to `closing`,
`cancelling` or `unsigning`, under the order's lock and version, that stops any deduction from
starting), then the channel is asked, then the move completes (the channel did it), is undone
(a definite refusal), or stays claimed (an unknown answer) for the lease worker, which asks
again: each of these operations is idempotent at the channel (ports.lease.LeaseChannelPort)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from core.events import EventType
from core.flowlog import FlowNode
from core.lease.errors import ChannelRefused
from core.lease.order import LeaseOrder
from core.lease.status import AgreementStatus, CancelReason, OrderStatus, PlanStatus
from core.usecases.lease.book import Change, EventOf, LeaseBook, agreement_status, on_move
from core.usecases.lease.channel import LeaseChannelCalls
from ports.lease import LeaseAnswer, LeaseChannelPort

ChannelStep = Callable[[LeaseChannelPort, LeaseOrder], Awaitable[LeaseAnswer]]


@dataclass(frozen=True, slots=True)
class ClaimedMove:
    """One channel operation of an order between its claim and its end."""

    operation: str
    call: ChannelStep
    complete: Change
    undo: Change
    event: EventOf | None = None


def _plan_event(before: LeaseOrder, after: LeaseOrder) -> EventType | None:
    moved = (before.plan.status, before.plan.cancel_reason) != (after.plan.status, after.plan.cancel_reason)
    return EventType.LEASE_PLAN_CANCELLED if moved and after.plan.status is PlanStatus.CANCELLED else None


def close_move(reason: str) -> ClaimedMove:
    return ClaimedMove(
        "close order",
        lambda port, o: port.close_order(o, reason),
        lambda o, at: o.closed(reason, at) if o.status is OrderStatus.CLOSING else o,
        lambda o, at: o.close_undone(at),
        on_move(EventType.LEASE_ORDER_CLOSED, lambda o: o.status),
    )


def cancel_plan_move(reason: CancelReason, note: str) -> ClaimedMove:
    def complete(o: LeaseOrder, at: datetime) -> LeaseOrder:
        done = o.plan.status is PlanStatus.CANCELLED and o.plan.cancel_reason is reason
        return o if done else o.plan_cancelled(reason, note, at)

    return ClaimedMove(
        "cancel plan",
        lambda port, o: port.cancel_plan(o, reason, note),
        complete,
        lambda o, at: o.plan_cancel_undone(at),
        _plan_event,
    )


def unsign_move(reason: str) -> ClaimedMove:
    return ClaimedMove(
        "unsign",
        lambda port, o: port.unsign_agreement(o, reason),
        lambda o, at: o.agreement_unsigned(o.agreement.agreement_no, reason, at),
        lambda o, at: o.unsign_undone(at),
        on_move(EventType.LEASE_AGREEMENT_UNSIGNED, agreement_status, AgreementStatus.UNSIGNED),
    )


def pending_moves(order: LeaseOrder) -> list[ClaimedMove]:
    """The moves an order was claimed for and that the channel has not settled yet."""
    moves: list[ClaimedMove] = []
    if order.agreement.status is AgreementStatus.UNSIGNING:
        moves.append(unsign_move(order.agreement.unsign_reason or "unsign"))
    if order.plan.status is PlanStatus.CANCELLING and order.plan.cancel_reason is not None:
        moves.append(cancel_plan_move(order.plan.cancel_reason, order.plan.cancel_note or ""))
    if order.status is OrderStatus.CLOSING:
        moves.append(close_move(order.closure.reason if order.closure else "close"))
    return moves


class ClaimedMoves:
    """Runs a claimed move: claim, ask the channel, then complete, undo or leave it claimed."""

    def __init__(self, book: LeaseBook, calls: LeaseChannelCalls) -> None:
        self.book = book
        self.calls = calls

    async def run(self, order_id: str, claim: Change, move: ClaimedMove) -> LeaseOrder:
        """Claim (raises what the claim's checks refuse), then settle with the channel."""
        claimed = await self.book.change(order_id, claim)
        return await self.settle(claimed, move)

    async def settle(self, claimed: LeaseOrder, move: ClaimedMove) -> LeaseOrder:
        """Ask the channel about a claimed move: done completes it, a refusal undoes it (and is
        raised), an unknown answer leaves it claimed (ChannelOutcomeUnknown is raised)."""
        try:
            await self.calls.operate(claimed, move.operation, move.call(self.calls.port(claimed), claimed))
        except ChannelRefused:
            await self.book.change(claimed.id, move.undo)
            self.book.trail.record(
                claimed.id, FlowNode.FINAL_STATE, message=f"{move.operation} undone: refused"
            )
            raise
        return await self.book.change(claimed.id, move.complete, move.event)

    async def resume(self, order_id: str) -> LeaseOrder:
        """The lease worker's step: settle every move a crash or an unknown answer left
        claimed on this order (a refusal undoes it; an unknown answer leaves it for later)."""
        order = await self.book.get(order_id)
        for move in pending_moves(order):
            try:
                order = await self.settle(order, move)
            except ChannelRefused:
                order = await self.book.get(order_id)
        return order

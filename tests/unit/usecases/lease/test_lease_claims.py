"""Close, cancel-plan and unsign claim the order first (issue 11 item 8): a deduction cannot
start while the channel is asked, a close cannot start while a deduction is in flight, a
refusal undoes the claim, and an unknown answer leaves it to the lease worker, which asks
again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.workflows import LeaseWorld, lease_world
from lease_builders import T0, collecting, new_order

from core.lease.errors import ChannelOutcomeUnknown, ChannelRefused, ClosePreconditionFailed
from core.lease.order import LeaseOrder
from core.lease.status import AgreementStatus, CancelReason, OrderStatus, PeriodStatus, PlanStatus
from core.usecases.lease.close import LeaseClosing
from core.usecases.lease.collection import RentCollection
from core.usecases.lease.orders import LeaseOrderService
from core.usecases.lease.recovery import LeaseRecovery
from core.usecases.lease.signing import ContractSigning
from core.usecases.lease.withholding import WithholdingService
from ports.channels import ChannelStatus
from ports.lease import LeaseAnswer

DUE = T0 + timedelta(days=40)  # both periods due


def collection(w: LeaseWorld) -> RentCollection:
    return RentCollection(w.book, w.pay.service, w.policy)


def withholding(w: LeaseWorld) -> WithholdingService:
    return WithholdingService(w.book, w.calls, ContractSigning(w.book, w.calls))


def recovery(w: LeaseWorld) -> LeaseRecovery:
    orders = LeaseOrderService(w.book, w.calls, w.pay.service, w.policy)
    return LeaseRecovery(w.book, orders, ContractSigning(w.book, w.calls), collection(w), w.policy)


def fulfilled() -> LeaseOrder:
    order = collecting(new_order())
    for no in (1, 2):
        order, _ = order.start_attempt(no, T0)
        order = order.attempt_paid(no, 1, f"pay_{no}", f"T{no}", T0)
    return order


async def test_a_deduction_cannot_start_while_the_plan_cancellation_is_at_the_channel() -> None:
    order = collecting(new_order())
    w = lease_world(order)
    started: list[int] = []

    async def collect_meanwhile() -> None:
        assert w.orders[order.id].plan.status is PlanStatus.CANCELLING
        started.append(await collection(w).collect_due(10, DUE))

    w.port.during["cancel_plan"] = collect_meanwhile
    cancelled = await withholding(w).cancel_plan(order.id, "shop", CancelReason.RETURN_SUCCESS, "back")

    assert started == [0] and w.deductions.calls == []
    assert cancelled.plan.status is PlanStatus.CANCELLED
    assert {p.status for p in cancelled.periods} == {PeriodStatus.CANCELLED}


async def test_a_deduction_cannot_start_while_close_is_in_progress() -> None:
    """An order closable while one period is still due for a retry cannot exist (closing needs
    it fulfilled or its plan cancelled), so the race is run on the claimed order itself."""
    order = fulfilled()
    w = lease_world(order)
    seen: list[bool] = []

    async def try_to_collect() -> None:
        claimed = w.orders[order.id]
        seen.append(claimed.status is OrderStatus.CLOSING and not claimed.collecting_allowed())
        assert await collection(w).collect_due(10, DUE) == 0

    w.port.during["close_order"] = try_to_collect
    closed = await LeaseClosing(w.book, w.calls).close(order.id, "shop", "fulfilled")
    assert seen == [True] and closed.status is OrderStatus.CLOSED


async def test_close_after_a_deduction_started_is_refused_before_the_channel_is_asked() -> None:
    order, _ = collecting(new_order()).start_attempt(1, T0)
    order = order.plan_cancelled(CancelReason.LEASE_TO_SALE, "sold", T0)  # period 1 still collecting
    w = lease_world(order)
    with pytest.raises(ClosePreconditionFailed) as refused:
        await LeaseClosing(w.book, w.calls).close(order.id, "shop", "sold")
    assert refused.value.field == "no_deduction_in_flight"
    assert w.port.calls == [] and w.orders[order.id].status is OrderStatus.SYNCED


async def test_a_refused_close_reopens_the_order_and_an_unknown_one_is_finished_by_the_worker() -> None:
    order = fulfilled()
    w = lease_world(order)
    service = LeaseClosing(w.book, w.calls)
    w.port.answers["close_order"] = LeaseAnswer(ChannelStatus.FAILED, "ORDER_STATUS_ERROR", "no")
    with pytest.raises(ChannelRefused):
        await service.close(order.id, "shop", "done")
    assert w.orders[order.id].status is OrderStatus.SYNCED and w.orders[order.id].closure is None

    w.port.answers["close_order"] = LeaseAnswer(ChannelStatus.UNKNOWN, "SYSTEM_ERROR", "timeout")
    with pytest.raises(ChannelOutcomeUnknown):
        await service.close(order.id, "shop", "done")
    assert w.orders[order.id].status is OrderStatus.CLOSING, "left claimed: no deduction can start"

    del w.port.answers["close_order"]
    await recovery(w).run_once(10, T0 + timedelta(minutes=5))
    assert w.orders[order.id].status is OrderStatus.CLOSED
    assert w.port.calls == ["close_order"] * 3 and w.events() == ["lease.order_closed"]


async def test_an_unsign_is_claimed_then_completed_or_undone() -> None:
    order = collecting(new_order())
    w = lease_world(order)
    service = withholding(w)
    w.port.answers["unsign_agreement"] = LeaseAnswer(ChannelStatus.FAILED, "AGREEMENT_HAS_DEBT", "debt")
    with pytest.raises(ChannelRefused):
        await service.unsign(order.id, "shop", "returned")
    assert w.orders[order.id].agreement.status is AgreementStatus.SIGNED

    w.port.answers["unsign_agreement"] = LeaseAnswer(ChannelStatus.UNKNOWN, "SYSTEM_ERROR", "timeout")
    with pytest.raises(ChannelOutcomeUnknown):
        await service.unsign(order.id, "shop", "returned")
    assert w.orders[order.id].agreement.status is AgreementStatus.UNSIGNING
    assert await collection(w).collect_due(10, DUE) == 0

    del w.port.answers["unsign_agreement"]
    unsigned = await service.unsign(order.id, "shop", "returned")
    assert unsigned.agreement.status is AgreementStatus.UNSIGNED
    assert unsigned.agreement.unsign_reason == "returned"

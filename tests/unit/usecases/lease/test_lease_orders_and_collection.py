"""Specification of pre-orders (core.usecases.lease.orders), rent collection (collection) and the
lease worker's round (recovery) on the fakes: the real payment service submits each deduction to
a scripted ant_lease channel, and the lease listener moves the period with its payment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes.workflows import LeaseWorld, lease_world
from lease_builders import BUYER, T0, both_signed, collecting, new_order

from core.errors import IdempotencyConflict
from core.lease.status import ContractStatus, OrderStatus, PeriodStatus
from core.payments.model import PaymentStatus
from core.usecases.lease.collection import RentCollection
from core.usecases.lease.orders import LeaseOrderService
from core.usecases.lease.recovery import LeaseRecovery
from core.usecases.lease.signing import ContractSigning
from gateway.http.schemas.lease import LeaseOrderBody
from ports.channels import ChannelResult, ChannelStatus
from ports.lease import LeaseAnswer

OTHER_ORDER_ID = "lse_0195f2a3b4c5d6e7f8091a2b3c5"
BODY = {
    "out_order_no": "RENT-1",
    "buyer_id": BUYER,
    "title": "iPhone 16 租赁",
    "total_amount": "200.00",
    "period_count": 2,
    "periods": [
        {"due_date": "2026-03-01", "amount": "100.00"},
        {"due_date": "2026-04-01", "amount": "100.00"},
    ],
}


def orders(w: LeaseWorld) -> LeaseOrderService:
    return LeaseOrderService(w.book, w.calls, w.pay.service, w.policy)


def collection(w: LeaseWorld) -> RentCollection:
    return RentCollection(w.book, w.pay.service, w.policy)


def recovery(w: LeaseWorld) -> LeaseRecovery:
    contract = ContractSigning(w.book, w.calls)
    return LeaseRecovery(w.book, orders(w), contract, collection(w), w.policy)


async def test_a_pre_order_is_stored_then_synced_to_its_channel() -> None:
    w = lease_world()
    w.port.answers["sync_order"] = LeaseAnswer(ChannelStatus.SUCCEEDED, data={"channel_order_id": "CH-9"})
    order, created = await orders(w).create("shop", LeaseOrderBody.model_validate(BODY))
    assert created and (order.status, order.channel_order_id) == (OrderStatus.SYNCED, "CH-9")
    assert w.port.calls == ["sync_order"] and w.orders[order.id] == order
    again, created = await orders(w).create("shop", LeaseOrderBody.model_validate(BODY))
    assert (again, created, w.port.calls) == (order, False, ["sync_order"])


async def test_a_pre_order_the_channel_did_not_confirm_stays_created_and_a_repeat_syncs_it() -> None:
    w = lease_world()
    w.port.answers["sync_order"] = LeaseAnswer(ChannelStatus.UNKNOWN, code="TIMEOUT")
    order, _ = await orders(w).create("shop", LeaseOrderBody.model_validate(BODY))
    assert order.status is OrderStatus.CREATED
    w.port.answers.pop("sync_order")
    again, created = await orders(w).create("shop", LeaseOrderBody.model_validate(BODY))
    assert not created and again.status is OrderStatus.SYNCED and w.port.calls == ["sync_order"] * 2


async def test_a_used_out_order_no_with_another_body_is_a_conflict() -> None:
    w = lease_world()
    await orders(w).create("shop", LeaseOrderBody.model_validate(BODY))
    with pytest.raises(IdempotencyConflict):
        await orders(w).create("shop", LeaseOrderBody.model_validate({**BODY, "title": "another"}))


async def test_a_due_period_is_collected_once_and_paid_with_its_payment() -> None:
    order = collecting(new_order())
    w = lease_world(order)
    w.deductions.answers = [ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="TRADE-1")]
    assert await collection(w).collect_due(10, T0) == 1
    assert await collection(w).collect_due(10, T0) == 0, "a paid period is not collected again"
    [request] = w.deductions.calls
    assert (request.details["lease_order_id"], request.details["lease_period_no"]) == (order.id, 1)
    period = w.orders[order.id].period(1)
    assert (period.status, period.trade_no, period.attempts) == (PeriodStatus.PAID, "TRADE-1", 1)
    assert w.events() == ["lease.period_paid"]
    assert w.storage.state.payments[request.payment_id].status is PaymentStatus.SUCCEEDED


async def test_a_deduction_still_processing_leaves_its_period_collecting() -> None:
    order = collecting(new_order())
    w = lease_world(order)
    assert await collection(w).collect_due(10, T0) == 1
    period = w.orders[order.id].period(1)
    assert period.status is PeriodStatus.COLLECTING and period.payment_id == w.deductions.calls[0].payment_id
    assert w.events() == []


async def test_the_worker_syncs_an_order_left_created_and_finalises_a_signed_contract() -> None:
    created = new_order()
    signed = both_signed(new_order(OTHER_ORDER_ID))  # contract and agreement signed: 落签 due
    w = lease_world(created, signed)
    done = await recovery(w).run_once(10, T0 + timedelta(minutes=5))
    assert done >= 2
    assert w.orders[created.id].status is OrderStatus.SYNCED
    assert w.orders[signed.id].contract.status is ContractStatus.FINALISED
    assert sorted(w.port.calls) == ["finalise_contract", "sync_order"]


async def test_an_attempt_a_crash_left_unsubmitted_is_submitted_once_on_recovery() -> None:
    order, _ = collecting(new_order()).start_attempt(1, T0)  # committed, then the process died
    w = lease_world(order)
    await collection(w).recover_attempt(order.id, 1, 1)
    await collection(w).recover_attempt(order.id, 1, 1)  # its payment exists now: never resent
    assert len(w.deductions.calls) == 1
    assert w.orders[order.id].period(1).payment_id == w.deductions.calls[0].payment_id


async def test_a_deduction_no_channel_takes_fails_its_period_until_the_retry() -> None:
    order = collecting(new_order())
    w = lease_world(order)
    w.pay.service.access.router.rules = ()
    assert await collection(w).collect_due(10, T0) == 1
    period = w.orders[order.id].period(1)
    assert (period.status, period.last_failure_code) == (PeriodStatus.FAILED, "NO_ROUTE")
    assert period.next_attempt_at is not None and period.next_attempt_at > T0
    assert w.deductions.calls == [] and w.events() == ["lease.period_failed"]

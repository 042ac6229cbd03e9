"""A payout follows its payment, and only its own payment, inside the payment's transaction."""

from __future__ import annotations

from fakes.workflows import PayoutWorld, payout_world
from payout_builders import payment_of, stored_payout

from core.payments.model import Payment, PaymentStatus
from core.payouts.model import PayoutStatus
from core.usecases.payouts.listener import PayoutResultListener


async def follow(w: PayoutWorld, payment: Payment) -> None:
    """The listener, as the payment service calls it inside the payment's transaction."""
    async with w.storage.uow() as uow:
        await PayoutResultListener()(uow, payment)
        await uow.commit()


async def test_a_processing_payment_moves_the_payout_to_paying_without_a_result() -> None:
    w = payout_world()
    payout = stored_payout(w, PayoutStatus.APPROVED)
    await follow(w, payment_of(payout.id, PaymentStatus.PROCESSING, channel_ref="T-1"))
    paying = w.payout(payout.id)
    assert (paying.status, paying.payment_id, paying.channel_ref) == (PayoutStatus.PAYING, "pay_1", "T-1")
    assert w.storage.state.outbox == []


async def test_a_failed_payment_fails_the_payout_and_publishes_why() -> None:
    w = payout_world()
    payout = stored_payout(w, PayoutStatus.PAYING)
    failed = payment_of(
        payout.id, PaymentStatus.FAILED, failure_code="PAYEE_NOT_EXIST", failure_message="no such payee"
    )
    await follow(w, failed)
    assert w.payout(payout.id).failure_code == "PAYEE_NOT_EXIST"
    [event] = w.storage.state.outbox
    assert (event["event_type"], event["payload"]["message"]) == ("payout.failed", "no such payee")


async def test_a_succeeded_payment_succeeds_the_payout_once() -> None:
    w = payout_world()
    payout = stored_payout(w, PayoutStatus.APPROVED)
    succeeded = payment_of(payout.id, PaymentStatus.SUCCEEDED)
    await follow(w, succeeded)
    await follow(w, succeeded)  # a repeated answer changes nothing more
    assert w.payout(payout.id).status is PayoutStatus.SUCCEEDED
    assert w.storage.state.events() == ["payout.succeeded"]


async def test_other_payments_and_final_payouts_are_left_alone() -> None:
    w = payout_world()
    payout = stored_payout(w, PayoutStatus.REJECTED)
    await follow(w, payment_of(payout.id, PaymentStatus.SUCCEEDED))
    await follow(w, payment_of(payout.id, PaymentStatus.SUCCEEDED, details={}))
    assert w.payout(payout.id).status is PayoutStatus.REJECTED and w.storage.state.outbox == []


async def tell_returned(w: PayoutWorld, payment: Payment) -> bool:
    """The late fact, as the payment service tells it inside a transaction."""
    async with w.storage.uow() as uow:
        told = await PayoutResultListener().returned(
            uow, payment, payment.updated_at, code="REFUND", message="card bounced"
        )
        await uow.commit()
    return told


async def test_a_returned_payment_returns_the_succeeded_payout_once() -> None:
    w = payout_world()
    payout = stored_payout(w, PayoutStatus.APPROVED)
    succeeded = payment_of(payout.id, PaymentStatus.SUCCEEDED)
    await follow(w, succeeded)
    paid_at = w.payout(payout.id).finished_at

    assert await tell_returned(w, succeeded)
    assert not await tell_returned(w, succeeded)  # a repeated fact changes nothing

    returned = w.payout(payout.id)
    assert (returned.status, returned.failure_code, returned.failure_message) == (
        PayoutStatus.RETURNED,
        "REFUND",
        "card bounced",
    )
    assert returned.finished_at == paid_at
    assert w.storage.state.events() == ["payout.succeeded", "payout.returned"]
    payload = w.storage.state.outbox[-1]["payload"]
    assert (payload["status"], payload["succeeded"], payload["message"]) == (
        "returned",
        False,
        "card bounced",
    )


async def test_a_return_of_a_payout_not_succeeded_changes_nothing() -> None:
    w = payout_world()
    for status in (PayoutStatus.PAYING, PayoutStatus.FAILED, PayoutStatus.REJECTED):
        payout = stored_payout(w, status)
        assert not await tell_returned(w, payment_of(payout.id, PaymentStatus.SUCCEEDED))
        assert w.payout(payout.id).status is status
    assert not await tell_returned(w, payment_of("pyt_none", PaymentStatus.SUCCEEDED, details={}))
    assert w.storage.state.outbox == []


def test_the_listener_follows_only_payout_payments() -> None:
    listener = PayoutResultListener()
    assert listener.follows(payment_of("pyt_1", PaymentStatus.PROCESSING))
    assert not listener.follows(payment_of("pyt_1", PaymentStatus.PROCESSING, details={"bill_id": "b"}))

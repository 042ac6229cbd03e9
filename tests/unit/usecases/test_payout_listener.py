"""A payout follows its payment, and only its own payment, inside the payment's transaction."""

from __future__ import annotations

from dataclasses import replace

from payout_fakes import NOW, FakePayouts, FakeUnitOfWork, World, stored_payout, world

from core.money import Money
from core.payments.model import Payment, PaymentStatus
from core.payouts.model import PayoutStatus, payment_out_request_no
from core.usecases.payouts.listener import PayoutResultListener


def payment_of(payout_id: str, status: PaymentStatus, **changes: object) -> Payment:
    base = Payment(
        id="pay_1",
        app_id="app_1",
        out_request_no=payment_out_request_no(payout_id),
        request_hash="h",
        pay_method="alipay",
        channel="alipay_payout",
        amount=Money(1230, "CNY"),
        payer_account=None,
        payee_account="zhangsan@example.com",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        details={"payout_id": payout_id},
    )
    return replace(base, **changes)  # type: ignore[arg-type]


async def follow(w: World, payment: Payment) -> None:
    """The listener, as the payment service calls it inside the payment's transaction."""
    listener = PayoutResultListener(lambda uow: FakePayouts(w.store))
    await listener(FakeUnitOfWork(w.store), payment)  # type: ignore[arg-type]


async def test_a_processing_payment_moves_the_payout_to_paying_without_a_result() -> None:
    w = world()
    payout = stored_payout(w, PayoutStatus.APPROVED)
    await follow(w, payment_of(payout.id, PaymentStatus.PROCESSING, channel_ref="T-1"))
    paying = w.payout(payout.id)
    assert (paying.status, paying.payment_id, paying.channel_ref) == (PayoutStatus.PAYING, "pay_1", "T-1")
    assert w.store.events == []


async def test_a_failed_payment_fails_the_payout_and_publishes_why() -> None:
    w = world()
    payout = stored_payout(w, PayoutStatus.PAYING)
    failed = payment_of(
        payout.id, PaymentStatus.FAILED, failure_code="PAYEE_NOT_EXIST", failure_message="no such payee"
    )
    await follow(w, failed)
    assert w.payout(payout.id).failure_code == "PAYEE_NOT_EXIST"
    [event] = w.store.events
    assert (event["type"], event["payload"]["message"]) == ("payout.failed", "no such payee")


async def test_a_succeeded_payment_succeeds_the_payout_once() -> None:
    w = world()
    payout = stored_payout(w, PayoutStatus.APPROVED)
    succeeded = payment_of(payout.id, PaymentStatus.SUCCEEDED)
    await follow(w, succeeded)
    await follow(w, succeeded)  # a repeated answer changes nothing more
    assert w.payout(payout.id).status is PayoutStatus.SUCCEEDED
    assert [e["type"] for e in w.store.events] == ["payout.succeeded"]


async def test_other_payments_and_final_payouts_are_left_alone() -> None:
    w = world()
    payout = stored_payout(w, PayoutStatus.REJECTED)
    await follow(w, payment_of(payout.id, PaymentStatus.SUCCEEDED))
    await follow(w, payment_of(payout.id, PaymentStatus.SUCCEEDED, details={}))
    assert w.payout(payout.id).status is PayoutStatus.REJECTED and w.store.events == []

"""The payout worker's round on fakes: an approved payout without its payment gets it, once
(core.usecases.payouts.recovery)."""

from __future__ import annotations

from datetime import timedelta

from fakes.workflows import PAYOUT_TIME, payout_world
from payout_builders import payment_of, stored_payout

from core.payments.model import PaymentStatus
from core.payouts.model import PayoutStatus, payment_out_request_no
from core.usecases.payouts.recovery import PayoutRecovery


async def test_an_approved_payout_without_a_payment_is_paid_once_after_the_grace() -> None:
    w = payout_world()
    payout = stored_payout(w, PayoutStatus.APPROVED)  # approved at PAYOUT_TIME
    grace = timedelta(minutes=1)
    recovery = PayoutRecovery(w.ctx, resume_after=grace)
    w.ctx.clock.now = PAYOUT_TIME + grace - timedelta(seconds=1)  # type: ignore[attr-defined]
    assert await recovery.run_once(10) == 0 and not w.port.calls  # held back by the grace
    w.ctx.clock.now = PAYOUT_TIME + grace  # type: ignore[attr-defined]
    assert await recovery.run_once(10) == 1
    [request] = w.port.calls
    payment = w.storage.state.payments[request.payment_id]
    assert payment.out_request_no == payment_out_request_no(payout.id)
    assert w.payout(payout.id).status is PayoutStatus.PAYING
    # the next round finds nothing to resume: the payout has its payment
    assert await recovery.run_once(10) == 0
    assert len(w.port.calls) == 1 and len(w.storage.state.payments) == 1


async def test_a_payout_whose_payment_was_saved_is_left_to_the_payment_resolver() -> None:
    w = payout_world()
    payout = stored_payout(w, PayoutStatus.APPROVED)
    # saved, never answered (a crash after the save): the payout is still approved
    w.storage.state.payments["pay_1"] = payment_of(payout.id, PaymentStatus.CREATED)
    assert await PayoutRecovery(w.ctx, resume_after=timedelta(0)).run_once(10) == 0
    assert not w.port.calls and len(w.storage.state.payments) == 1

"""Following a payout's payment: the payout moves with it, and its final result is published;
a paid payout's payee is texted when its application asked for it, once that is committed; a
late return of the paid money moves it to returned."""

from __future__ import annotations

import logging
from datetime import datetime

from core.payments.model import Payment, PaymentStatus
from core.payouts.model import PayoutStatus
from core.usecases.payouts.results import save_move
from core.usecases.payouts.sms import PayeeTexts
from ports.storage import UnitOfWork

log = logging.getLogger("paygate.payouts")

PAYOUT_STATUS_OF_PAYMENT = {
    PaymentStatus.CREATED: PayoutStatus.PAYING,
    PaymentStatus.PROCESSING: PayoutStatus.PAYING,
    PaymentStatus.UNKNOWN: PayoutStatus.PAYING,
    PaymentStatus.SUCCEEDED: PayoutStatus.SUCCEEDED,
    PaymentStatus.FAILED: PayoutStatus.FAILED,
}


class PayoutResultListener:
    """Moves a payout with its payment, inside the payment's transaction, and publishes the
    final result from the same transaction: the payout and its payment never disagree. The
    payee's SMS is no part of that transaction: it is sent after the commit (`after_commit`),
    so never for a payout whose paid state rolled back, the transaction never waits on the SMS
    gateway, and it is sent once: a repeated result finds the payout final and adds nothing."""

    def __init__(self, texts: PayeeTexts | None = None) -> None:
        self.texts = texts

    def follows(self, payment: Payment) -> bool:
        return isinstance(payment.details.get("payout_id"), str)

    async def __call__(self, uow: UnitOfWork, payment: Payment) -> None:
        payout_id = payment.details.get("payout_id")
        if not isinstance(payout_id, str):
            return  # not a payout's payment
        repo = uow.payouts
        current = await repo.get_for_update(payout_id)
        if current is None:
            log.error("payment of a missing payout", extra={"payment_id": payment.id})
            return
        target = PAYOUT_STATUS_OF_PAYMENT[payment.status]
        if current.status not in (PayoutStatus.APPROVED, PayoutStatus.PAYING):
            if current.status is not target:
                log.error(
                    "payout and payment disagree",
                    extra={"payout_id": current.id, "payout": current.status, "payment": payment.status},
                )
            return
        failed = target is PayoutStatus.FAILED
        moved = current.moved(
            target,
            payment.updated_at,
            payment_id=payment.id,
            channel=payment.channel,
            channel_ref=payment.channel_ref,
            failure_code=payment.failure_code if failed else None,
            failure_message=payment.failure_message if failed else None,
        )
        await save_move(uow, repo, moved, expected_status=current.status)
        if target is PayoutStatus.SUCCEEDED and self.texts is not None:
            # once the paid payout is durable; a sender that fails or hangs is cut off and counted
            texts = self.texts
            uow.after_commit(lambda: texts.paid(moved))

    async def returned(
        self, uow: UnitOfWork, payment: Payment, at: datetime, *, code: str | None, message: str | None
    ) -> bool:
        """The channel gave the succeeded payment's money back: the payout moves succeeded →
        returned and `payout.returned` is published, once; a repeated fact changes nothing."""
        payout_id = payment.details.get("payout_id")
        if not isinstance(payout_id, str):
            return False
        repo = uow.payouts
        current = await repo.get_for_update(payout_id)
        if current is None or current.status is not PayoutStatus.SUCCEEDED:
            if current is None or current.status is not PayoutStatus.RETURNED:
                log.error(
                    "a returned payment whose payout is not succeeded", extra={"payment_id": payment.id}
                )
            return False
        moved = current.moved(
            PayoutStatus.RETURNED,
            at,
            finished_at=current.finished_at,
            failure_code=code,
            failure_message=message,
        )
        await save_move(uow, repo, moved, expected_status=current.status)
        return True

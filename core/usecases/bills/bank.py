"""A bill's bank attempts: each a payment through PaymentService, so routed to the SPDB channel."""

from __future__ import annotations

from core.bills.model import (
    BankFailureEvidence,
    Bill,
    BillFailure,
    BillStatus,
    payout_amount,
)
from core.cards import mask_card_no
from core.errors import DomainError
from core.events import EventType
from core.flowlog import FlowNode, FlowOutcome
from core.payments.model import Payment, PaymentStatus, request_fingerprint
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.context import BillContext
from core.usecases.bills.events import publish
from core.usecases.bills.listener import failed_state_record, sending_8801
from core.usecases.payments.commands import PaymentCommand
from core.usecases.payments.service import PaymentService


class BillBank:
    """A bill's bank attempts: sending one, acting on the bank's answer, asking the bank again."""

    def __init__(self, ctx: BillContext, payments: PaymentService, business: BillBusiness) -> None:
        self.ctx = ctx
        self.payments = payments
        self.business = business

    def payment_command(self, bill: Bill) -> PaymentCommand:
        """The bill's current bank attempt. Its out_request_no (hence the payment id, which is the
        elecChequeNo at the bank) is fixed by the attempt: resubmitting it never pays twice."""
        details = {
            "bill_id": bill.id,
            "bill_attempt": bill.attempt,
            "payee_name": bill.payee_name,
            "payee_bank_name": bill.payee_bank_name,
            "payee_bank_no": bill.payee_bank_no,  # CNAPS: the channel tells same/other bank and city
            "notify": False,  # the caller hears of the bill (bill.*), not of its payments
            "mask_accounts": True,  # card numbers: shown with their last four digits only
        }
        return PaymentCommand(
            app_id=bill.app_id,
            out_request_no=bill.attempt_request_no,
            request_hash=request_fingerprint({"bill_id": bill.id, "attempt": bill.attempt}),
            pay_method=self.ctx.policy.pay_method,
            amount=payout_amount(bill.command()),
            payer_account=bill.payer_card_no,
            payee_account=bill.payee_card_no,
            business_type=self.ctx.policy.business_type,
            memo=f"{bill.kind.value} {bill.bill_code}",
            submitter="bills",
            details={k: v for k, v in details.items() if v is not None},
        )

    async def send_attempt(self, bill: Bill) -> Bill:
        """Send the current attempt (8801); a refusal before any payment existed is a bank failure."""
        cmd = self.payment_command(bill)
        self.ctx.trail.record(
            bill.id,
            FlowNode.CHANNEL_REQUEST,
            FlowOutcome.PENDING,
            f"bank payment (8801) sent, attempt {bill.attempt}",
            attempt=bill.attempt,
            out_request_no=cmd.out_request_no,
            amount=str(cmd.amount),
            payer_card_no=mask_card_no(cmd.payer_account),
            payee_card_no=mask_card_no(cmd.payee_account),
        )
        try:
            with sending_8801(cmd.out_request_no):
                await self.payments.submit(cmd)
        except DomainError as exc:
            return await self._attempt_refused(bill, exc)
        return await self.after_bank(bill.id)

    async def after_bank(self, bill_id: str) -> Bill:
        """Business processing right after the bank's verified success; the bill otherwise."""
        bill = await self.ctx.get(bill_id)
        if bill.status is BillStatus.BANK_SUCCEEDED:
            return await self.business.run_business(bill.id)
        return bill

    async def _attempt_refused(self, bill: Bill, exc: DomainError) -> Bill:
        """The payment service refused the attempt before a payment existed (no route, over its
        limit): nothing reached the bank, so the bank result is a definite failure."""
        now = self.ctx.clock()
        async with self.ctx.uow() as uow:
            if await uow.payments.by_request_no(bill.app_id, bill.attempt_request_no) is not None:
                raise exc  # a payment exists: its outcome, not this error, decides
            repo = uow.bills
            current = await repo.get_for_update(bill.id)
            if (
                current is None
                or current.status is not BillStatus.BANK_SUBMITTED
                or current.attempt != bill.attempt
            ):
                return current or bill
            failed = current.moved(
                BillStatus.BANK_FAILED,
                now,
                failure=BillFailure.of(exc),
                bank_failure_evidence=BankFailureEvidence.DEFINITE_REFUSAL,  # nothing was sent
            )
            await repo.save(failed, expected_status=BillStatus.BANK_SUBMITTED)
            await publish(uow, failed, EventType.BILL_FAILED, now)
            await uow.commit()
        self.ctx.trail.record(
            bill.id,
            FlowNode.CHANNEL_ANSWER,
            FlowOutcome.FAILED,
            f"bank payment refused before it was sent: {exc.message}",
            attempt=bill.attempt,
            code=exc.code,
        )
        self.ctx.flow.record(failed_state_record(failed, self.ctx.clock()))
        return failed

    async def requery(self, bill: Bill) -> Bill:
        """Have the bank asked (8804) about the current attempt, off this request: its payment is
        made due for the query poller now (also when it was escalated: it stays escalated unless
        the bank's answer is final), and the poller woken; the bill as it is. The poller's claim
        of a due payment is conditional, so requests repeated meanwhile still make one query. An
        attempt never sent is queued for the send worker (which claims and sends it) instead."""
        attempt = await self._attempt_payment(bill)
        if attempt is None:
            self.ctx.sends.add(bill.id)
            return bill
        async with self.ctx.uow() as uow:
            if await uow.bills.query_attempt_now(bill, self.ctx.clock()):
                await uow.commit()
        self.ctx.queries.set()
        return bill

    async def recover_attempt(self, bill: Bill) -> None:
        """A claimed attempt still bank_submitted: sent when its payment was never saved (so never
        sent: the same out_request_no), queried (never resent) when it was saved but unanswered."""
        attempt = await self._attempt_payment(bill)
        if attempt is None:
            await self.send_attempt(bill)  # never saved, so never sent: send it now
        elif attempt[0].status is PaymentStatus.CREATED:
            await self._query(bill, *attempt)  # saved, answer lost: query only

    async def _attempt_payment(self, bill: Bill) -> tuple[Payment, int] | None:
        async with self.ctx.reads() as uow:
            return await uow.bills.attempt_payment(bill)

    async def _query(self, bill: Bill, payment: Payment, queries: int) -> Bill:
        """8804 through the payment service (whose listener moves the bill), then what follows."""
        await self.payments.resolve(payment, queries)
        return await self.after_bank(bill.id)

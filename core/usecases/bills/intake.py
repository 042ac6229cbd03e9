"""Intake of a bill: repeat detection, its checks, stored whatever the outcome, then its first step."""

from __future__ import annotations

from datetime import datetime

from core.bills.model import Bill, BillStatus
from core.errors import IdempotencyConflict
from core.flowlog import FlowNode, FlowOutcome
from core.ids import new_id
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.checking import BillChecker
from core.usecases.bills.context import BillContext
from core.usecases.bills.requests import BillRefused, BillRequest
from ports.storage import DuplicateRequest


class BillIntake:
    """Takes bills in: repeats answered from the stored bill, checks on current data, stored whatever
    the outcome, then business processing (transfer) or the first bank attempt committed and
    queued for the send worker (bank: the answer is bank_submitted; the caller polls the bill or
    hears `bill.completed` / `bill.failed`)."""

    def __init__(self, ctx: BillContext, checker: BillChecker, business: BillBusiness) -> None:
        self.ctx = ctx
        self.checker = checker
        self.business = business

    async def submit(self, request: BillRequest) -> tuple[Bill, bool]:
        """(bill, created). A repeat of the same request returns the stored bill; a bill refused
        by a check is stored and raised as BillRefused."""
        existing = await self.ctx.find_by_code(request.app_id, request.bill_code)
        if existing is not None:
            return _repeat(existing, request), False
        now = self.ctx.clock()
        received = _received(request, now)
        accepted = self.ctx.trail.node(
            received.id, FlowNode.ACCEPTED, message=f"{request.kind.value} bill received"
        )
        checked = await self.checker.check(received, now)
        try:
            async with self.ctx.uow() as uow:
                checked = await self.checker.hold(uow.bills, received, checked, now)
                await uow.bills.add(checked.bill)
                await uow.commit()
        except DuplicateRequest:
            first = await self.ctx.find_by_code(request.app_id, request.bill_code)
            assert first is not None, "a duplicate insert implies a stored bill"
            return _repeat(first, request), False
        except Exception as exc:  # the request was not saved: the flow log says so, then why
            failed = self.ctx.trail.node(
                received.id,
                FlowNode.REQUEST_SAVED,
                FlowOutcome.FAILED,
                f"bill not saved: {type(exc).__name__}",
                error=str(exc)[:200],
            )
            self.ctx.trail.emit([accepted, *checked.trail, failed])
            raise
        saved = self.ctx.trail.node(
            checked.bill.id, FlowNode.REQUEST_SAVED, message=f"bill saved as {checked.bill.status.value}"
        )
        self.ctx.trail.emit([accepted, *checked.trail, saved])
        if checked.error is not None:
            raise BillRefused(checked.bill.id, checked.error)
        return await self.proceed(checked.bill), True

    async def proceed(self, bill: Bill) -> Bill:
        """A checked bill's first step: business processing (transfer, no bank involved), or its
        committed bank attempt queued for the send worker: the caller never waits on the bank."""
        if bill.status is BillStatus.TRANSFER_PENDING:
            return await self.business.run_business(bill.id)
        if bill.status is BillStatus.BANK_SUBMITTED:
            self.ctx.sends.add(bill.id)
        return bill


def _received(request: BillRequest, now: datetime) -> Bill:
    """The request as a bill not yet checked (请求原始日志)."""
    return Bill(
        id=new_id("bill"),
        app_id=request.app_id,
        kind=request.kind,
        bill_code=request.bill_code,
        request_hash=request.request_hash,
        status=BillStatus.RECEIVED,
        pay_mode=request.pay_mode,
        applicant_account_id=request.applicant_account_id,
        amount=request.amount,
        write_off_total=request.write_off_total,
        write_offs=request.write_offs,
        created_at=now,
        updated_at=now,
        exchange_rate=request.exchange_rate,
        payer_card_no=request.payer_card_no,
        payee_card_no=request.payee_card_no,
        payee_name=request.payee_name,
        memo=request.memo,
    )


def _repeat(existing: Bill, request: BillRequest) -> Bill:
    """The stored bill for a repeat of its request; a different body with its code is refused."""
    if existing.request_hash == request.request_hash:
        return existing
    if existing.in_process:
        conflict = IdempotencyConflict(
            f"bill {request.bill_code} is already being processed ({existing.status.value}); follow "
            "that bill instead of submitting another body with its code",
            field="bill_code",
            code="BILL_IN_PROCESS",
        )
    else:
        conflict = IdempotencyConflict(
            f"bill_code {request.bill_code!r} was already used with a different body "
            f"(that bill is {existing.status.value})",
            field="bill_code",
        )
    raise BillRefused(existing.id, conflict)

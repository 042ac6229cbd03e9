"""Intake of a bill: repeat detection, the acceptance checks and risk controls, the first step."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from core.bills.checks import validate_loan, validate_reimbursement
from core.bills.codes import (
    CHECK_OF_CODE,
    LOAN_CHECKS,
    LOAN_RISK_CHECKS,
    REIMBURSEMENT_CHECKS,
    REIMBURSEMENT_RISK_CHECKS,
    Check,
    ValidationOutcome,
)
from core.bills.model import (
    Bill,
    BillFailure,
    BillKind,
    BillStatus,
    LoanCommand,
    PayMode,
)
from core.bills.risk import risk_check_loan, risk_check_reimbursement
from core.errors import BusinessRuleViolation, DomainError, IdempotencyConflict
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import new_id
from core.usecases.bills.bank import BillBank
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.context import BillContext
from core.usecases.bills.requests import BillRefused, BillRequest
from core.usecases.bills.views import bill_params
from ports.bills import Applicant
from ports.storage import DuplicateRequest


class BillIntake:
    """Takes bills in: repeats answered from the stored bill, checks on current data, stored whatever
    the outcome, then on to the bank or to business processing."""

    def __init__(self, ctx: BillContext, bank: BillBank, business: BillBusiness) -> None:
        self.ctx = ctx
        self.bank = bank
        self.business = business

    # -- intake ------------------------------------------------------------------------------
    async def submit(self, request: BillRequest) -> tuple[Bill, bool]:
        """(bill, created). A repeat of the same request returns the stored bill; a bill refused
        by a check is stored and raised as BillRefused."""
        async with self.ctx.reads() as uow:
            existing = await self.ctx.bills_of(uow).by_code(request.app_id, request.bill_code)
        if existing is not None:
            return self._repeat(existing, request), False
        now = self.ctx.clock()
        received = Bill(
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
        trail = [
            self.ctx.record(received.id, FlowNode.ACCEPTED, message=f"{request.kind.value} bill received")
        ]
        checked, error, check_trail = await self.checked(received, now)
        try:
            async with self.ctx.uow() as uow:
                await self.ctx.bills_of(uow).add(checked)
                await uow.commit()
        except DuplicateRequest:
            async with self.ctx.reads() as uow:
                first = await self.ctx.bills_of(uow).by_code(request.app_id, request.bill_code)
            assert first is not None, "a duplicate insert implies a stored bill"
            return self._repeat(first, request), False
        self.ctx.emit(
            [
                *trail,
                *check_trail,
                self.ctx.record(
                    checked.id, FlowNode.REQUEST_SAVED, message=f"bill saved as {checked.status.value}"
                ),
            ]
        )
        if error is not None:
            raise BillRefused(checked.id, error)
        return await self.proceed(checked), True

    @staticmethod
    def _repeat(existing: Bill, request: BillRequest) -> Bill:
        if existing.request_hash == request.request_hash:
            return existing
        if existing.in_process:
            error: DomainError = BillRefused(
                existing.id,
                IdempotencyConflict(
                    f"bill {request.bill_code} is already being processed ({existing.status.value}); follow "
                    "that bill instead of submitting another body with its code",
                    field="bill_code",
                    code="BILL_IN_PROCESS",
                ),
            )
        else:
            error = BillRefused(
                existing.id,
                IdempotencyConflict(
                    f"bill_code {request.bill_code!r} was already used with a different body "
                    f"(that bill is {existing.status.value})",
                    field="bill_code",
                ),
            )
        raise error

    async def checked(self, bill: Bill, now: datetime) -> tuple[Bill, DomainError | None, list[FlowRecord]]:
        """Run the acceptance checks and the risk controls on current data: the bill moved to
        validation_failed / risk_rejected, or accepted and on to its first bank attempt or to
        transfer_pending; the error when refused; the flow-log records of both nodes."""
        async with self.ctx.reads() as uow:
            repo = self.ctx.bills_of(uow)
            applicant = await repo.applicant(bill.app_id, bill.applicant_account_id)
            loans = await repo.loans(bill.app_id, [line.loan_bill_id for line in bill.write_offs])
            open_loans = (
                await repo.open_loans(bill.app_id, bill.applicant_account_id, excluding=bill.id)
                if bill.kind is BillKind.LOAN
                else 0
            )
        bill = self._resolved(bill, applicant)
        cmd = bill.command()
        limits = self.ctx.policy.limits
        params = bill_params(bill)
        view = applicant.view if applicant else None
        # the bill's own code is held by this bill alone (unique per app): never "in process" here
        try:
            if isinstance(cmd, LoanCommand):
                validated = validate_loan(cmd, view, False, limits)
            else:
                validated = validate_reimbursement(cmd, view, loans, False, limits)
            _check_applicant_currency(bill, applicant)
        except DomainError as exc:
            checks = LOAN_CHECKS if bill.kind is BillKind.LOAN else REIMBURSEMENT_CHECKS
            return self._refused(
                bill, now, BillStatus.VALIDATION_FAILED, FlowNode.VALIDATED, exc, checks, params
            )
        trail = [self._passed(bill.id, validated, params)]
        try:
            if isinstance(cmd, LoanCommand):
                risk = risk_check_loan(cmd, open_loans, limits)
            else:
                risk = risk_check_reimbursement(cmd, limits)
        except DomainError as exc:
            checks = LOAN_RISK_CHECKS if bill.kind is BillKind.LOAN else REIMBURSEMENT_RISK_CHECKS
            refused, error, records = self._refused(
                bill, now, BillStatus.RISK_REJECTED, FlowNode.RISK_CHECKED, exc, checks, params, open_loans
            )
            return refused, error, trail + records
        trail.append(
            self._passed(bill.id, risk, params, open_loans=open_loans if bill.kind is BillKind.LOAN else None)
        )
        accepted = bill.moved(BillStatus.ACCEPTED, now, failure=None)
        if accepted.mode is PayMode.BANK:
            started = accepted.moved(
                BillStatus.BANK_SUBMITTED, now, attempt=accepted.attempt + 1, payment_id=None
            )
        else:
            started = accepted.moved(BillStatus.TRANSFER_PENDING, now)
        return started, None, trail

    def _resolved(self, bill: Bill, applicant: Applicant | None) -> Bill:
        """In bank mode: the company's card and the applicant's registered card, when not named."""
        if bill.mode is not PayMode.BANK:
            return bill
        view = applicant.view if applicant else None
        return replace(
            bill,
            payer_card_no=bill.payer_card_no or self.ctx.policy.payer_card_no,
            payee_card_no=bill.payee_card_no or (view.card_no if view else None),
            payee_name=bill.payee_name or ((view.card_name or view.name) if view else None),
            payee_bank_name=bill.payee_bank_name or (applicant.bank_name if applicant else None),
        )

    def _passed(
        self, bill_id: str, outcome: ValidationOutcome, params: dict[str, Any], **extra: Any
    ) -> FlowRecord:
        what = "acceptance checks" if outcome.node is FlowNode.VALIDATED else "risk controls"
        detail = {**outcome.detail(), "params": params, **{k: v for k, v in extra.items() if v is not None}}
        return self.ctx.record(bill_id, outcome.node, FlowOutcome.OK, f"{what} passed", **detail)

    def _refused(
        self,
        bill: Bill,
        now: datetime,
        status: BillStatus,
        node: FlowNode,
        error: DomainError,
        checks: tuple[Check, ...],
        params: dict[str, Any],
        open_loans: int | None = None,
    ) -> tuple[Bill, DomainError, list[FlowRecord]]:
        check = CHECK_OF_CODE.get(error.code)
        passed = checks[: checks.index(check)] if check is not None and check in checks else ()
        refused = bill.moved(status, now, failure=BillFailure.of(error))
        detail: dict[str, Any] = {
            "failed_check": check.value if check else None,
            "code": error.code,
            "field": error.field,
            "checks_passed": [c.value for c in passed],
            "params": params,
        }
        if open_loans is not None and bill.kind is BillKind.LOAN:
            detail["open_loans"] = open_loans
        what = "acceptance check" if node is FlowNode.VALIDATED else "risk control"
        record = self.ctx.record(
            bill.id, node, FlowOutcome.FAILED, f"{what} failed: {error.message}", **detail
        )
        return refused, error, [record]

    async def proceed(self, bill: Bill) -> Bill:
        if bill.status is BillStatus.TRANSFER_PENDING:
            return await self.business.run_business(bill.id)
        if bill.status is BillStatus.BANK_SUBMITTED:
            return await self.bank.send_attempt(bill)
        return bill


def _check_applicant_currency(bill: Bill, applicant: Applicant | None) -> None:
    """The applicant's account must hold the bill's currency, or no ledger flow could reach it."""
    if applicant is not None and applicant.currency != bill.currency:
        raise BusinessRuleViolation(
            f"applicant account {bill.applicant_account_id} holds {applicant.currency}, not the bill's "
            f"{bill.currency}; name the applicant's {bill.currency} account",
            field="applicant_account",
            code="APPLICANT_ACCOUNT_INVALID",
        )

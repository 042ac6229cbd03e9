"""The checks of a bill on current data (acceptance checks, then risk controls), with their flow log."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
from core.bills.model import Bill, BillFailure, BillKind, BillStatus, LoanCommand, LoanView, PayMode
from core.bills.risk import risk_check_loan, risk_check_reimbursement
from core.cards import compact_card_no
from core.errors import BusinessRuleViolation, DomainError
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.usecases.bills.acceptance import hold_acceptance
from core.usecases.bills.context import BillContext
from core.usecases.bills.policy import BillPolicy
from core.usecases.bills.views import bill_params
from ports.bills import Applicant, BillRepository


@dataclass(frozen=True, slots=True)
class CheckedBill:
    """A bill after its checks: refused (validation_failed / risk_rejected, with `error`), or
    accepted and started (bank_submitted with its first attempt, or transfer_pending); `trail`
    holds the flow-log records of the check nodes."""

    bill: Bill
    error: DomainError | None
    trail: tuple[FlowRecord, ...]


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the checks read: the applicant, the linked loans, the applicant's open loans."""

    applicant: Applicant | None
    loans: dict[str, LoanView]
    open_loans: int


class BillChecker:
    """Runs the acceptance checks and the risk controls of a bill on current data."""

    def __init__(self, ctx: BillContext) -> None:
        self.ctx = ctx

    async def check(self, bill: Bill, now: datetime) -> CheckedBill:
        """The bill moved by its checks; the bill's own code is held by this bill alone (unique
        per app), so it is never "in process" here."""
        facts = await self._facts(bill)
        bill = self._resolved(bill, facts.applicant)
        params = bill_params(bill)
        try:
            validated = self._validate(bill, facts)
        except DomainError as exc:
            return self._refused(bill, now, FlowNode.VALIDATED, exc, params)
        passed = self._passed(bill.id, validated, params)
        open_loans = facts.open_loans if bill.kind is BillKind.LOAN else None
        try:
            risk = self._risk_check(bill, facts.open_loans)
        except DomainError as exc:
            refused = self._refused(bill, now, FlowNode.RISK_CHECKED, exc, params, open_loans)
            return replace(refused, trail=(passed, *refused.trail))
        trail = (passed, self._passed(bill.id, risk, params, open_loans=open_loans))
        return CheckedBill(_started(bill, now), None, trail)

    async def hold(
        self, repo: BillRepository, before: Bill, checked: CheckedBill, now: datetime
    ) -> CheckedBill:
        """In the transaction that stores the checked bill: an accepted bill holds what its checks
        saw (`hold_acceptance`), or is refused by the check that no longer holds. `before` is
        the bill as it was before its checks."""
        if checked.error is not None:
            return checked
        error = await hold_acceptance(repo, checked.bill, self.ctx.policy.limits)
        if error is None:
            return checked
        unchecked = replace(
            checked.bill, status=before.status, attempt=before.attempt, payment_id=before.payment_id
        )
        loan = before.kind is BillKind.LOAN
        node = FlowNode.RISK_CHECKED if loan else FlowNode.VALIDATED
        open_loans = await repo.open_loans(before.app_id, before.applicant_account_id, excluding=before.id)
        refused = self._refused(
            unchecked, now, node, error, bill_params(unchecked), open_loans if loan else None
        )
        return replace(refused, trail=(*checked.trail[: 1 if loan else 0], *refused.trail))

    async def _facts(self, bill: Bill) -> _Facts:
        async with self.ctx.reads() as uow:
            repo = uow.bills
            applicant = await repo.applicant(bill.app_id, bill.applicant_account_id)
            loans = await repo.loans(bill.app_id, [line.loan_bill_id for line in bill.write_offs])
            open_loans = (
                await repo.open_loans(bill.app_id, bill.applicant_account_id, excluding=bill.id)
                if bill.kind is BillKind.LOAN
                else 0
            )
        return _Facts(applicant, loans, open_loans)

    def _resolved(self, bill: Bill, applicant: Applicant | None) -> Bill:
        """In bank mode: the company's card (the bank's own account when it has just one) and the
        applicant's registered card, when not named; the payee bank's data (name, CNAPS number)
        from the registered card when the bank pays that card."""
        if bill.mode is not PayMode.BANK:
            return bill
        view = applicant.view if applicant else None
        payee_card_no = bill.payee_card_no or (view.card_no if view else None)
        registered = (
            applicant
            if applicant is not None
            and compact_card_no(payee_card_no) == compact_card_no(applicant.view.card_no)
            else None
        )
        return replace(
            bill,
            payer_card_no=bill.payer_card_no or self.ctx.policy.payer_card_no or _sole(self.ctx.policy),
            payee_card_no=payee_card_no,
            payee_name=bill.payee_name or ((view.card_name or view.name) if view else None),
            payee_bank_name=bill.payee_bank_name or (registered.bank_name if registered else None),
            payee_bank_no=bill.payee_bank_no or (registered.bank_no if registered else None),
        )

    def _validate(self, bill: Bill, facts: _Facts) -> ValidationOutcome:
        cmd, limits = bill.command(), self.ctx.policy.limits
        view = facts.applicant.view if facts.applicant else None
        if isinstance(cmd, LoanCommand):
            validated = validate_loan(cmd, view, False, limits)
        else:
            validated = validate_reimbursement(cmd, view, facts.loans, False, limits)
        _check_applicant_currency(bill, facts.applicant)
        return validated

    def _risk_check(self, bill: Bill, open_loans: int) -> ValidationOutcome:
        cmd, limits = bill.command(), self.ctx.policy.limits
        if isinstance(cmd, LoanCommand):
            return risk_check_loan(cmd, open_loans, limits)
        return risk_check_reimbursement(cmd, limits)

    def _passed(
        self, bill_id: str, outcome: ValidationOutcome, params: dict[str, Any], **extra: Any
    ) -> FlowRecord:
        what = "acceptance checks" if outcome.node is FlowNode.VALIDATED else "risk controls"
        detail = {**outcome.detail(), "params": params, **{k: v for k, v in extra.items() if v is not None}}
        return self.ctx.trail.node(bill_id, outcome.node, FlowOutcome.OK, f"{what} passed", **detail)

    def _refused(
        self,
        bill: Bill,
        now: datetime,
        node: FlowNode,
        error: DomainError,
        params: dict[str, Any],
        open_loans: int | None = None,
    ) -> CheckedBill:
        validation = node is FlowNode.VALIDATED
        checks = _checks_of(bill.kind, validation)
        check = CHECK_OF_CODE.get(error.code)
        passed = checks[: checks.index(check)] if check is not None and check in checks else ()
        status = BillStatus.VALIDATION_FAILED if validation else BillStatus.RISK_REJECTED
        refused = bill.moved(status, now, failure=BillFailure.of(error))
        detail: dict[str, Any] = {
            "failed_check": check.value if check else None,
            "code": error.code,
            "field": error.field,
            "checks_passed": [c.value for c in passed],
            "params": params,
        }
        if open_loans is not None:
            detail["open_loans"] = open_loans
        what = "acceptance check" if validation else "risk control"
        record = self.ctx.trail.node(
            bill.id, node, FlowOutcome.FAILED, f"{what} failed: {error.message}", **detail
        )
        return CheckedBill(refused, error, (record,))


def _sole(policy: BillPolicy) -> str | None:
    """The account the bank pays from, when it is configured with exactly one."""
    accounts = policy.limits.bank_payer_accounts
    return next(iter(accounts)) if len(accounts) == 1 else None


def _checks_of(kind: BillKind, validation: bool) -> tuple[Check, ...]:
    """The checks of the acceptance (`validation`) or risk node of a bill of this kind, in order."""
    if kind is BillKind.LOAN:
        return LOAN_CHECKS if validation else LOAN_RISK_CHECKS
    return REIMBURSEMENT_CHECKS if validation else REIMBURSEMENT_RISK_CHECKS


def _started(bill: Bill, now: datetime) -> Bill:
    """An accepted bill on its way: its first bank attempt, or transfer_pending."""
    accepted = bill.moved(BillStatus.ACCEPTED, now, failure=None)
    if accepted.mode is PayMode.BANK:
        return accepted.moved(BillStatus.BANK_SUBMITTED, now, attempt=accepted.attempt + 1, payment_id=None)
    return accepted.moved(BillStatus.TRANSFER_PENDING, now)


def _check_applicant_currency(bill: Bill, applicant: Applicant | None) -> None:
    """The applicant's account must hold the bill's currency, or no ledger flow could reach it."""
    if applicant is not None and applicant.currency != bill.currency:
        raise BusinessRuleViolation(
            f"applicant account {bill.applicant_account_id} holds {applicant.currency}, not the bill's "
            f"{bill.currency}; name the applicant's {bill.currency} account",
            field="applicant_account",
            code="APPLICANT_ACCOUNT_INVALID",
        )

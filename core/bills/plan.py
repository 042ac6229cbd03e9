"""The business transaction of a bill (业务处理): ledger flows, transfer and write-off logs, loan updates.

Business processing (业务处理) is one database transaction, planned by `plan_business`:
    loan:           company -> applicant, amount (LOAN); transfer log; a new open loan.
    reimbursement:  R - W > 0: company -> applicant, R - W (REIMBURSEMENT), transfer log;
                    W > 0: applicant -> company, W (WRITE_OFF), a write-off log line and a
                    loan update (open amount less the line, WRITTEN_OFF at 0) per linked loan.
    W = 0 writes no write-off flow, log or loan change; W = R writes only the write-off flow.
The seed names only the applicant's write-off out-flow (核销转出流水); its counter-leg credits
the company, which lent the money: the write-off repays the loan. So an applicant's account
holds their open loans plus the real amounts paid to them, and the company's the negative of
that; the bank statement, not the ledger, shows the loan money spent on the reimbursed expenses.
Loan updates carry the open amount they were planned from, so storage applies them with a
conditional update and a concurrent write-off of the same loan fails instead of overdrawing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.bills.checks import recheck_for_business
from core.bills.model import (
    BillCommand,
    BillKind,
    LoanCommand,
    LoanState,
    LoanView,
    ReimbursementCommand,
    real_amount,
)
from core.errors import BusinessRuleViolation
from core.ledger import FlowKind, Posting, check_balanced, transfer
from core.money import Money


@dataclass(frozen=True, slots=True)
class TransferLog:
    """转账日志: money moved from the company to the applicant."""

    amount: Money
    payer_account_id: str
    payee_account_id: str


@dataclass(frozen=True, slots=True)
class WriteOffLog:
    """核销日志: one linked loan written off by this reimbursement."""

    loan_bill_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class LoanUpdate:
    """A linked loan's new open amount; apply only while it still is `expected_open_amount`."""

    loan_bill_id: str
    expected_open_amount: Money
    open_amount: Money
    state: LoanState


@dataclass(frozen=True, slots=True)
class BusinessPlan:
    """Everything one business transaction writes for a bill (the final state aside)."""

    kind: BillKind
    bill_code: str
    applicant_account_id: str
    postings: tuple[Posting, ...]
    paid_amount: Money  # the loan amount or the real amount R - W
    write_off_total: Money
    transfer_log: TransferLog | None
    write_off_logs: tuple[WriteOffLog, ...]
    loan_updates: tuple[LoanUpdate, ...]
    opened_loan: Money | None  # a loan bill opens a loan of its amount


def plan_business(
    bill: BillCommand,
    loans: Mapping[str, LoanView],
    company_account_id: str,
    write_off_account_id: str | None = None,
) -> BusinessPlan:
    """Plan the business transaction of a paid (or transfer-mode) bill; `loans` by loan bill id.

    A write-off credits `write_off_account_id` (the company's loan write-off clearing account)
    when given, so that the company's paying account mirrors exactly the cash the bank paid out;
    without it the write-off returns to the paying account.

    Re-checks the amounts and the linked loans against `loans` as they are now: a loan written
    off by another bill since acceptance fails business processing rather than going negative.
    """
    if bill.applicant_account_id == company_account_id:
        raise BusinessRuleViolation(
            "the applicant account is the company's own account; name the applicant's",
            field="applicant_account",
            code="APPLICANT_ACCOUNT_INVALID",
        )
    recheck_for_business(bill, loans)
    if isinstance(bill, LoanCommand):
        return _plan_loan(bill, company_account_id)
    return _plan_reimbursement(bill, loans, company_account_id, write_off_account_id or company_account_id)


def _plan_loan(bill: LoanCommand, company_account_id: str) -> BusinessPlan:
    """Company -> applicant, the loan amount; a transfer log; a new open loan."""
    applicant = bill.applicant_account_id
    postings = transfer(company_account_id, applicant, bill.amount, FlowKind.LOAN, memo="loan")
    check_balanced(postings)
    return BusinessPlan(
        kind=BillKind.LOAN,
        bill_code=bill.bill_code,
        applicant_account_id=applicant,
        postings=postings,
        paid_amount=bill.amount,
        write_off_total=Money.zero(bill.amount.currency),
        transfer_log=TransferLog(bill.amount, company_account_id, applicant),
        write_off_logs=(),
        loan_updates=(),
        opened_loan=bill.amount,
    )


def _plan_reimbursement(
    bill: ReimbursementCommand,
    loans: Mapping[str, LoanView],
    company_account_id: str,
    write_off_account_id: str,
) -> BusinessPlan:
    """The three write-off cases: R - W > 0 pays the applicant; W > 0 repays the linked loans."""
    applicant = bill.applicant_account_id
    real = real_amount(bill)
    legs: list[Posting] = []
    transfer_log = None
    if real.minor > 0:
        legs.extend(
            transfer(company_account_id, applicant, real, FlowKind.REIMBURSEMENT, memo="reimbursement")
        )
        transfer_log = TransferLog(real, company_account_id, applicant)
    updates: tuple[LoanUpdate, ...] = ()
    if bill.write_off_total.minor > 0:
        legs.extend(
            transfer(
                applicant, write_off_account_id, bill.write_off_total, FlowKind.WRITE_OFF, memo="write-off"
            )
        )
        updates = _loan_updates(bill, loans)
    check_balanced(legs)
    return BusinessPlan(
        kind=BillKind.REIMBURSEMENT,
        bill_code=bill.bill_code,
        applicant_account_id=applicant,
        postings=tuple(legs),
        paid_amount=real,
        write_off_total=bill.write_off_total,
        transfer_log=transfer_log,
        write_off_logs=tuple(WriteOffLog(line.loan_bill_id, line.amount) for line in bill.write_offs),
        loan_updates=updates,
        opened_loan=None,
    )


def _loan_updates(bill: ReimbursementCommand, loans: Mapping[str, LoanView]) -> tuple[LoanUpdate, ...]:
    """Each linked loan's open amount less its line, written off at zero."""
    updates: list[LoanUpdate] = []
    for line in bill.write_offs:
        before = loans[line.loan_bill_id].open_amount
        after = before - line.amount
        state = LoanState.WRITTEN_OFF if after.minor == 0 else LoanState.OPEN
        updates.append(LoanUpdate(line.loan_bill_id, before, after, state))
    return tuple(updates)

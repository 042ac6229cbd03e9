"""Risk controls of a bill (业务风控验证) and the limits, from settings, that checks and controls apply.

Risk controls (业务风控验证, limits from settings, all 422):
    single bill amount <= the currency's limit         SINGLE_BILL_LIMIT_EXCEEDED
    loan: applicant has fewer than max_open_loans open loans
                                                       TOO_MANY_OPEN_LOANS
    reimbursement: at most max_linked_loans lines      TOO_MANY_LINKED_LOANS
"xx笔以上借款未还款, 不可再借款": 以上 counts the number itself, so an applicant holding
max_open_loans open loans is refused; max_open_loans is the most open loans anyone holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.bills.codes import LOAN_RISK_CHECKS, REIMBURSEMENT_RISK_CHECKS, ValidationOutcome
from core.bills.model import HOME_CURRENCY, LoanCommand, ReimbursementCommand
from core.errors import BusinessRuleViolation
from core.flowlog import FlowNode
from core.money import CURRENCY_EXPONENTS, Money


@dataclass(frozen=True, slots=True)
class BillLimits:
    """Validation and risk settings; limits are per currency, in major units, inclusive."""

    max_loan_amount: Mapping[str, Decimal]
    max_reimbursement_amount: Mapping[str, Decimal]
    max_open_loans: int
    max_linked_loans: int
    supported_currencies: frozenset[str] = frozenset({HOME_CURRENCY})
    bank_currencies: frozenset[str] = frozenset({HOME_CURRENCY})
    min_exchange_rate: Decimal = Decimal("0.0001")
    max_exchange_rate: Decimal = Decimal("10000")
    exchange_rate_max_places: int = 8
    # the accounts the bank channel pays from (its configured payer account); empty: unchecked
    bank_payer_accounts: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        """Refuse settings that would leave a supported currency unchecked."""
        problems: list[str] = []
        unknown = self.supported_currencies - CURRENCY_EXPONENTS.keys()
        if unknown:
            problems.append(f"supported_currencies {sorted(unknown)} are not known currencies")
        if not self.bank_currencies <= self.supported_currencies:
            problems.append("bank_currencies must be supported currencies")
        for name, limits in (
            ("max_loan_amount", self.max_loan_amount),
            ("max_reimbursement_amount", self.max_reimbursement_amount),
        ):
            missing = self.supported_currencies - limits.keys()
            if missing:
                problems.append(f"{name} has no limit for {sorted(missing)}")
            if any(not limit.is_finite() or limit <= 0 for limit in limits.values()):
                problems.append(f"{name} limits must be positive")
        if self.max_open_loans < 1 or self.max_linked_loans < 0:
            problems.append("max_open_loans must be >= 1 and max_linked_loans >= 0")
        if not Decimal(0) < self.min_exchange_rate <= self.max_exchange_rate:
            problems.append("exchange rate bounds must satisfy 0 < min <= max")
        if self.exchange_rate_max_places < 0:
            problems.append("exchange_rate_max_places must be >= 0")
        if problems:
            raise ValueError("invalid bill limits: " + "; ".join(problems))


def risk_check_loan(cmd: LoanCommand, open_loans_count: int, limits: BillLimits) -> ValidationOutcome:
    """Single-loan limit, and no new loan while the applicant holds max_open_loans open loans."""
    _check_single_limit(cmd.amount, limits.max_loan_amount, "amount", "loan")
    if open_loans_count >= limits.max_open_loans:
        raise BusinessRuleViolation(
            f"the applicant has {open_loans_count} open loans; a new loan needs fewer than "
            f"{limits.max_open_loans}, so write some off first",
            field="applicant_account",
            code="TOO_MANY_OPEN_LOANS",
        )
    return ValidationOutcome(FlowNode.RISK_CHECKED, LOAN_RISK_CHECKS)


def risk_check_reimbursement(cmd: ReimbursementCommand, limits: BillLimits) -> ValidationOutcome:
    """Single-reimbursement limit on R, and at most max_linked_loans linked loans."""
    _check_single_limit(
        cmd.reimbursement_amount, limits.max_reimbursement_amount, "reimbursement_amount", "reimbursement"
    )
    if len(cmd.write_offs) > limits.max_linked_loans:
        raise BusinessRuleViolation(
            f"{len(cmd.write_offs)} loans linked; a reimbursement may write off at most "
            f"{limits.max_linked_loans}",
            field="write_offs",
            code="TOO_MANY_LINKED_LOANS",
        )
    return ValidationOutcome(FlowNode.RISK_CHECKED, REIMBURSEMENT_RISK_CHECKS)


def _check_single_limit(amount: Money, limits: Mapping[str, Decimal], field: str, what: str) -> None:
    limit = limits.get(amount.currency)
    # A currency without a configured limit fails closed.
    if limit is None or amount.decimal > limit:
        shown = "no limit configured" if limit is None else f"the limit is {limit}"
        raise BusinessRuleViolation(
            f"a single {what} of {amount} {amount.currency} is over the limit ({shown})",
            field=field,
            code="SINGLE_BILL_LIMIT_EXCEEDED",
        )

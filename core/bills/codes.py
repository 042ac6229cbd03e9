"""The named checks of a bill and the error codes each raises, for answers and the flow log."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import DomainError
from core.flowlog import FlowNode

VALIDATION_CODES: frozenset[str] = frozenset(
    {
        "PAY_MODE_UNSUPPORTED",
        "BILL_CODE_INVALID",
        "BILL_IN_PROCESS",
        "CURRENCY_UNSUPPORTED",
        "NON_CNY_REQUIRES_TRANSFER",
        "EXCHANGE_RATE_INVALID",
        "CARD_NUMBER_REQUIRED",
        "PAYER_CARD_NOT_BANK_ACCOUNT",
        "INVALID_AMOUNT",
        "CURRENCY_MISMATCH",
        "APPLICANT_NOT_FOUND",
        "APPLICANT_ACCOUNT_INVALID",
        "REAL_AMOUNT_NEGATIVE",
        "BANK_MODE_NEEDS_POSITIVE_AMOUNT",
        "LINKED_LOAN_INVALID",
        "WRITE_OFF_EXCEEDS_OPEN_AMOUNT",
        "WRITE_OFF_SUM_MISMATCH",
    }
)
RISK_CODES: frozenset[str] = frozenset(
    {"SINGLE_BILL_LIMIT_EXCEEDED", "TOO_MANY_OPEN_LOANS", "TOO_MANY_LINKED_LOANS"}
)
ACTION_PRECONDITION_FAILED = "ACTION_PRECONDITION_FAILED"
STALE_FORM = "STALE_FORM"  # an operator acted from a page showing the bill before it changed
# Every code the bill rules raise, besides ILLEGAL_TRANSITION from core.state.
ERROR_CODES: frozenset[str] = VALIDATION_CODES | RISK_CODES | {ACTION_PRECONDITION_FAILED, STALE_FORM}


class Check(enum.StrEnum):
    """A named check, so the flow log can say what was checked and which check failed."""

    PAY_MODE = "pay_mode"
    BILL_CODE = "bill_code"
    NOT_IN_PROCESS = "bill_not_in_process"
    CURRENCY = "currency"
    PAY_MODE_CURRENCY = "pay_mode_currency"
    EXCHANGE_RATE = "exchange_rate"
    CARD_NUMBERS = "card_numbers"
    AMOUNTS = "amounts"
    APPLICANT = "applicant"
    APPLICANT_ACCOUNT = "applicant_account"
    REAL_AMOUNT = "real_amount"
    BANK_REAL_AMOUNT = "bank_real_amount"
    LINKED_LOANS = "linked_loans"
    WRITE_OFF_TOTAL = "write_off_total"
    SINGLE_BILL_LIMIT = "single_bill_limit"
    OPEN_LOANS = "open_loans"
    LINKED_LOAN_COUNT = "linked_loan_count"


LOAN_CHECKS: tuple[Check, ...] = (
    Check.PAY_MODE,
    Check.BILL_CODE,
    Check.NOT_IN_PROCESS,
    Check.CURRENCY,
    Check.PAY_MODE_CURRENCY,
    Check.EXCHANGE_RATE,
    Check.CARD_NUMBERS,
    Check.AMOUNTS,
    Check.APPLICANT,
    Check.APPLICANT_ACCOUNT,
)
REIMBURSEMENT_CHECKS: tuple[Check, ...] = (
    *LOAN_CHECKS,
    Check.REAL_AMOUNT,
    Check.BANK_REAL_AMOUNT,
    Check.LINKED_LOANS,
    Check.WRITE_OFF_TOTAL,
)
LOAN_RISK_CHECKS: tuple[Check, ...] = (Check.SINGLE_BILL_LIMIT, Check.OPEN_LOANS)
REIMBURSEMENT_RISK_CHECKS: tuple[Check, ...] = (Check.SINGLE_BILL_LIMIT, Check.LINKED_LOAN_COUNT)

# Which check raises which code, for the flow log of a failure.
CHECK_OF_CODE: Mapping[str, Check] = {
    "PAY_MODE_UNSUPPORTED": Check.PAY_MODE,
    "BILL_CODE_INVALID": Check.BILL_CODE,
    "BILL_IN_PROCESS": Check.NOT_IN_PROCESS,
    "CURRENCY_UNSUPPORTED": Check.CURRENCY,
    "NON_CNY_REQUIRES_TRANSFER": Check.PAY_MODE_CURRENCY,
    "EXCHANGE_RATE_INVALID": Check.EXCHANGE_RATE,
    "CARD_NUMBER_REQUIRED": Check.CARD_NUMBERS,
    "PAYER_CARD_NOT_BANK_ACCOUNT": Check.CARD_NUMBERS,
    "INVALID_AMOUNT": Check.AMOUNTS,
    "CURRENCY_MISMATCH": Check.AMOUNTS,
    "APPLICANT_NOT_FOUND": Check.APPLICANT,
    "APPLICANT_ACCOUNT_INVALID": Check.APPLICANT_ACCOUNT,
    "REAL_AMOUNT_NEGATIVE": Check.REAL_AMOUNT,
    "BANK_MODE_NEEDS_POSITIVE_AMOUNT": Check.BANK_REAL_AMOUNT,
    "LINKED_LOAN_INVALID": Check.LINKED_LOANS,
    "WRITE_OFF_EXCEEDS_OPEN_AMOUNT": Check.LINKED_LOANS,
    "WRITE_OFF_SUM_MISMATCH": Check.WRITE_OFF_TOTAL,
    "SINGLE_BILL_LIMIT_EXCEEDED": Check.SINGLE_BILL_LIMIT,
    "TOO_MANY_OPEN_LOANS": Check.OPEN_LOANS,
    "TOO_MANY_LINKED_LOANS": Check.LINKED_LOAN_COUNT,
}


def failed_check(error: DomainError) -> Check | None:
    """The check a validation or risk error came from (None for errors of other origin)."""
    return CHECK_OF_CODE.get(error.code)


@dataclass(frozen=True, slots=True)
class ValidationOutcome:
    """What a passed acceptance or risk check covered, for the flow log (pay_life_log)."""

    node: FlowNode
    checks: tuple[Check, ...]

    def detail(self) -> dict[str, list[str]]:
        return {"checks": [check.value for check in self.checks]}

"""Specification of the bill risk controls and limits (seed 002; core.bills.risk)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from bill_builders import (
    LIMITS,
    cny,
    expect,
    loan_cmd,
    reimb_cmd,
    usd,
)

from core.bills.codes import (
    LOAN_RISK_CHECKS,
    REIMBURSEMENT_RISK_CHECKS,
)
from core.bills.risk import risk_check_loan, risk_check_reimbursement
from core.errors import BusinessRuleViolation
from core.flowlog import FlowNode
from core.money import Money

# -- risk controls --------------------------------------------------------------------------------


def test_loan_at_the_limit_with_room_for_one_more_open_loan_passes() -> None:
    outcome = risk_check_loan(loan_cmd(cny(5_000_000)), 2, LIMITS)

    assert outcome.node is FlowNode.RISK_CHECKED
    assert outcome.checks == LOAN_RISK_CHECKS


def test_loan_over_the_single_bill_limit_is_refused() -> None:
    expect(
        lambda: risk_check_loan(loan_cmd(cny(5_000_001)), 0, LIMITS),
        "SINGLE_BILL_LIMIT_EXCEEDED",
        "amount",
        BusinessRuleViolation,
    )


def test_loan_limit_is_per_currency() -> None:
    risk_check_loan(loan_cmd(usd(800_000)), 0, LIMITS)
    expect(
        lambda: risk_check_loan(loan_cmd(usd(800_001)), 0, LIMITS),
        "SINGLE_BILL_LIMIT_EXCEEDED",
        "amount",
        BusinessRuleViolation,
    )


def test_a_currency_without_a_limit_fails_closed() -> None:
    expect(
        lambda: risk_check_loan(loan_cmd(Money(1, "JPY")), 0, LIMITS),
        "SINGLE_BILL_LIMIT_EXCEEDED",
        "amount",
        BusinessRuleViolation,
    )


def test_applicant_holding_max_open_loans_gets_no_new_loan() -> None:
    # 以上 counts the number itself: holding 3 with a maximum of 3 refuses the 4th.
    expect(
        lambda: risk_check_loan(loan_cmd(), 3, LIMITS),
        "TOO_MANY_OPEN_LOANS",
        "applicant_account",
        BusinessRuleViolation,
    )


def test_reimbursement_within_limits_passes() -> None:
    lines = [(f"L{i}", 1) for i in range(5)]

    outcome = risk_check_reimbursement(reimb_cmd(10_000_000, lines), LIMITS)

    assert outcome.checks == REIMBURSEMENT_RISK_CHECKS


def test_reimbursement_over_the_single_bill_limit_is_refused() -> None:
    expect(
        lambda: risk_check_reimbursement(reimb_cmd(10_000_001), LIMITS),
        "SINGLE_BILL_LIMIT_EXCEEDED",
        "reimbursement_amount",
        BusinessRuleViolation,
    )


def test_reimbursement_linking_too_many_loans_is_refused() -> None:
    lines = [(f"L{i}", 1) for i in range(6)]

    expect(
        lambda: risk_check_reimbursement(reimb_cmd(100_000, lines), LIMITS),
        "TOO_MANY_LINKED_LOANS",
        "write_offs",
        BusinessRuleViolation,
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_loan_amount": {"CNY": Decimal(1)}},
        {"max_reimbursement_amount": {"CNY": Decimal(1), "USD": Decimal(0)}},
        {"supported_currencies": frozenset({"CNY", "XXX"})},
        {"bank_currencies": frozenset({"GBP"})},
        {"max_open_loans": 0},
        {"max_linked_loans": -1},
        {"min_exchange_rate": Decimal(0)},
        {"min_exchange_rate": Decimal(5), "max_exchange_rate": Decimal(4)},
    ],
)
def test_limits_refuse_settings_that_leave_a_currency_unchecked(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="invalid bill limits"):
        replace(LIMITS, **overrides)  # type: ignore[arg-type]

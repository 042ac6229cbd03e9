"""Builders and constants shared by the specifications of the bill rules (core.bills)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import Decimal

import pytest

from core.bills.actions import ErrorAction
from core.bills.codes import (
    ERROR_CODES,
)
from core.bills.model import (
    ApplicantView,
    BillStatus,
    LoanCommand,
    LoanState,
    LoanView,
    PayMode,
    ReimbursementCommand,
    WriteOffLine,
)
from core.bills.risk import BillLimits
from core.errors import DomainError
from core.ledger import AccountStatus
from core.money import Money

BANK, TRANSFER = PayMode.BANK, PayMode.TRANSFER
S = BillStatus
A = ErrorAction
COMPANY = "company"
EMP = "emp1"
CARD = "6225880011112222"
COMPANY_CARD = "9550880000000001"


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


LIMITS = BillLimits(
    max_loan_amount={"CNY": Decimal("50000"), "USD": Decimal("8000")},
    max_reimbursement_amount={"CNY": Decimal("100000"), "USD": Decimal("15000")},
    max_open_loans=3,
    max_linked_loans=5,
    supported_currencies=frozenset({"CNY", "USD"}),
)


def applicant(**overrides: object) -> ApplicantView:
    base = ApplicantView(EMP, "Zhang San", AccountStatus.NORMAL, CARD, "Zhang San")
    return replace(base, **overrides)  # type: ignore[arg-type]


def loan_cmd(amount: Money | None = None, **overrides: object) -> LoanCommand:
    base = LoanCommand(
        bill_code="JK-2024_0001",
        applicant_account_id=EMP,
        amount=amount or cny(500_000),
        pay_mode=BANK,
        payer_card_no=COMPANY_CARD,
        payee_card_no=CARD,
        payee_name="Zhang San",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def reimb_cmd(
    amount: int = 300_000,
    lines: Iterable[tuple[str, int]] = (),
    total: int | None = None,
    currency: str = "CNY",
    **overrides: object,
) -> ReimbursementCommand:
    write_offs = tuple(WriteOffLine(loan_id, Money(minor, currency)) for loan_id, minor in lines)
    base = ReimbursementCommand(
        bill_code="BX-2024_0001",
        applicant_account_id=EMP,
        reimbursement_amount=Money(amount, currency),
        write_offs=write_offs,
        write_off_total=Money(sum(w.amount.minor for w in write_offs) if total is None else total, currency),
        pay_mode=BANK,
        payer_card_no=COMPANY_CARD,
        payee_card_no=CARD,
        payee_name="Zhang San",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def loan(
    bill_id: str,
    open_minor: int,
    amount: int | None = None,
    *,
    owner: str = EMP,
    currency: str = "CNY",
    state: LoanState = LoanState.OPEN,
) -> LoanView:
    total = Money(amount if amount is not None else open_minor, currency)
    return LoanView(bill_id, f"JK-{bill_id}", owner, currency, total, Money(open_minor, currency), state)


LOANS = {
    "L1": loan("L1", 60_000),
    "L2": loan("L2", 100_000, 150_000),
    "L3": loan("L3", 0, 80_000, state=LoanState.WRITTEN_OFF),
    "OTHER": loan("OTHER", 50_000, owner="emp2"),
    "USD1": loan("USD1", 50_000, currency="USD"),
}


def expect(fn: Callable[[], object], code: str, field: str | None, kind: type[DomainError]) -> DomainError:
    with pytest.raises(kind) as info:
        fn()
    assert info.value.code == code
    assert info.value.field == field
    assert code in ERROR_CODES
    return info.value

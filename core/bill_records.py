"""A stored bill (借款单 / 报销单): the caller's request, where it stands in its life, its bank attempts.

`core.bills` holds the rules; this module holds the record the use cases keep and move. A bill
is stored even when a check refuses it (validation_failed / risk_rejected, with the failure),
so that an operator can re-validate it once the data is fixed (seed 002 §7).

Bank attempts: attempt n of bill b is the payment with out_request_no `b-n`; resend_bank opens
attempt n + 1 (a new payment, hence a new elecChequeNo and packet id at the bank).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.bills import (
    BillCommand,
    BillKind,
    BillStatus,
    LoanCommand,
    LoanState,
    PayMode,
    ReimbursementCommand,
    WriteOffLine,
    move_bill,
)
from core.errors import DomainError
from core.money import Money

# Bills that still hold their bill code "in process": a different request with the code is
# BILL_IN_PROCESS. A completed bill, or one refused by a check, holds it as an ordinary
# idempotency key (IDEMPOTENCY_CONFLICT); an operator re-validates a refused one.
IN_PROCESS: frozenset[BillStatus] = frozenset(BillStatus) - {
    BillStatus.COMPLETED,
    BillStatus.VALIDATION_FAILED,
    BillStatus.RISK_REJECTED,
}


def mask_card_no(card_no: str | None) -> str | None:
    """A card number for answers and logs: every character but the last four starred."""
    if card_no is None:
        return None
    compact = "".join(card_no.split())
    if len(compact) <= 4:
        return "*" * len(compact)
    return "*" * (len(compact) - 4) + compact[-4:]


def attempt_request_no(bill_id: str, attempt: int) -> str:
    """The out_request_no of a bill's bank attempt: stable, so a retry never pays twice."""
    return f"{bill_id}-{attempt}"


@dataclass(frozen=True, slots=True)
class BillFailure:
    """Why a bill stopped: a check, the bank or business processing (code, message, field)."""

    code: str
    message: str
    field: str | None = None

    @classmethod
    def of(cls, error: DomainError) -> BillFailure:
        return cls(error.code, error.message, error.field)


@dataclass(frozen=True, slots=True)
class Bill:
    """One bill of one caller app. `amount` is the loan amount or the reimbursement amount R.

    `pay_mode` is kept as requested (a string) until the checks accept it; the payee fields
    hold what was requested and, once accepted, what the bank is asked to pay (the applicant's
    registered card when the request named none).
    """

    id: str
    app_id: str
    kind: BillKind
    bill_code: str
    request_hash: str
    status: BillStatus
    pay_mode: str
    applicant_account_id: str
    amount: Money
    write_off_total: Money
    write_offs: tuple[WriteOffLine, ...]
    created_at: datetime
    updated_at: datetime
    exchange_rate: Decimal | None = None
    payer_card_no: str | None = None
    payee_card_no: str | None = None
    payee_name: str | None = None
    payee_bank_name: str | None = None
    memo: str | None = None
    attempt: int = 0  # bank attempts made so far; the current one is `attempt`
    payment_id: str | None = None  # the current attempt's payment, once it answered
    failure: BillFailure | None = None
    loan_open_amount: Money | None = None  # a completed loan: what is left to write off
    loan_state: LoanState | None = None
    completed_at: datetime | None = None

    @property
    def currency(self) -> str:
        return self.amount.currency

    @property
    def mode(self) -> PayMode | None:
        """The pay mode, or None when the request named one the platform does not support."""
        try:
            return PayMode(self.pay_mode)
        except ValueError:
            return None

    @property
    def in_process(self) -> bool:
        return self.status in IN_PROCESS

    @property
    def attempt_request_no(self) -> str:
        return attempt_request_no(self.id, self.attempt)

    def command(self) -> BillCommand:
        """The bill as the rules of `core.bills` take it."""
        common: dict[str, Any] = {
            "bill_code": self.bill_code,
            "applicant_account_id": self.applicant_account_id,
            "pay_mode": self.mode or self.pay_mode,
            "exchange_rate": self.exchange_rate,
            "payer_card_no": self.payer_card_no,
            "payee_card_no": self.payee_card_no,
            "payee_name": self.payee_name,
        }
        if self.kind is BillKind.LOAN:
            return LoanCommand(amount=self.amount, **common)
        return ReimbursementCommand(
            reimbursement_amount=self.amount,
            write_offs=self.write_offs,
            write_off_total=self.write_off_total,
            **common,
        )

    def moved(self, target: BillStatus, at: datetime, **changes: Any) -> Bill:
        """A copy in `target` (a legal move of BILL_STATES for the bill's mode after the move)."""
        mode = changes.get("pay_mode", self.pay_mode)
        move_bill(self.status, target, PayMode(mode) if mode in set(PayMode) else PayMode.TRANSFER)
        return replace(self, status=target, updated_at=at, **changes)

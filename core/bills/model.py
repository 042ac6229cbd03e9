"""A bill (借款单 / 报销单): kinds and pay modes, the commands the rules take, the stored record, its life.

Life of a bill (`BILL_STATES`): received -> accepted | validation_failed | risk_rejected;
accepted -> bank_submitted (bank) | transfer_pending (transfer); bank_submitted -> bank
processing / unknown / succeeded / failed; bank_succeeded or transfer_pending -> completed |
business_failed -> completed. Only a definite bank rejection is bank_failed; a timeout or an
unverifiable answer is bank_unknown, resolved by query, never by a timer or a re-send. A
bank_failed bill records how the failure is known (`BankFailureEvidence`); without it (a bill
failed before that was recorded) it is not verified and is never re-sent or switched.

The other modules of `core.bills` hold the rules; `Bill` is the record the use cases keep and move. A bill
is stored even when a check refuses it (validation_failed / risk_rejected, with the failure),
so that an operator can re-validate it once the data is fixed (seed 002 §7).

Bank attempts: attempt n of bill b is the payment with out_request_no `b-n`; resend_bank opens
attempt n + 1 (a new payment, hence a new elecChequeNo and packet id at the bank).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.errors import DomainError, IllegalTransition
from core.ledger import AccountStatus
from core.money import Money
from core.state import StateMachine

# The currency the bank pays in and exchange rates are quoted to.
HOME_CURRENCY = "CNY"


class PayMode(enum.StrEnum):
    BANK = "bank"  # 银企支付: the company's SPDB account pays the applicant's card
    TRANSFER = "transfer"  # 系统转账: finance pays outside the platform; only the ledger moves


class BillKind(enum.StrEnum):
    LOAN = "loan"
    REIMBURSEMENT = "reimbursement"


class LoanState(enum.StrEnum):
    OPEN = "open"  # part of the loan is still to be written off
    WRITTEN_OFF = "written_off"  # fully repaid by reimbursements


# -- inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplicantView:
    """The applicant's platform virtual account (a C account) and registered bank card."""

    account_id: str
    name: str
    status: AccountStatus
    card_no: str | None = None
    card_name: str | None = None  # the card holder's name; the applicant's name when None


@dataclass(frozen=True, slots=True)
class LoanView:
    """A paid-out loan bill (borrowing_bill) and how much of it is still to be written off."""

    bill_id: str
    bill_code: str
    applicant_account_id: str
    currency: str
    amount: Money
    open_amount: Money
    state: LoanState
    # what accepted reimbursements have reserved of `open_amount` (their business writes it off)
    reserved_amount: Money | None = None

    @property
    def unreserved_amount(self) -> Money:
        """What a new reimbursement may still write off: open less reserved."""
        return self.open_amount - self.reserved_amount if self.reserved_amount else self.open_amount


@dataclass(frozen=True, slots=True)
class WriteOffLine:
    loan_bill_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class LoanCommand:
    """A loan bill as requested; `pay_mode` is the caller's string until validated."""

    bill_code: str
    applicant_account_id: str
    amount: Money
    pay_mode: PayMode | str
    exchange_rate: Decimal | None = None
    payer_card_no: str | None = None
    payee_card_no: str | None = None
    payee_name: str | None = None


@dataclass(frozen=True, slots=True)
class ReimbursementCommand:
    """A reimbursement bill: R = reimbursement_amount, W = write_off_total over `write_offs`."""

    bill_code: str
    applicant_account_id: str
    reimbursement_amount: Money
    write_offs: tuple[WriteOffLine, ...]
    write_off_total: Money
    pay_mode: PayMode | str
    exchange_rate: Decimal | None = None
    payer_card_no: str | None = None
    payee_card_no: str | None = None
    payee_name: str | None = None


BillCommand = LoanCommand | ReimbursementCommand

# -- helpers on commands -------------------------------------------------------------------------


def bill_kind(bill: BillCommand) -> BillKind:
    return BillKind.LOAN if isinstance(bill, LoanCommand) else BillKind.REIMBURSEMENT


def bill_amount(bill: BillCommand) -> Money:
    """The amount the bill is for: the loan amount or the reimbursement amount R."""
    return bill.amount if isinstance(bill, LoanCommand) else bill.reimbursement_amount


def real_amount(cmd: ReimbursementCommand) -> Money:
    """实际报销交易金额: R - W."""
    return cmd.reimbursement_amount - cmd.write_off_total


def payout_amount(bill: BillCommand) -> Money:
    """What reaches the applicant (the bank's 转账金额): the loan amount, or R - W."""
    return bill.amount if isinstance(bill, LoanCommand) else real_amount(bill)


# -- life of a bill ------------------------------------------------------------------------------


class BankFailureEvidence(enum.StrEnum):
    """How a bank attempt is known not to have been paid; resend and switch need one of these."""

    DEFINITE_REFUSAL = "definite_refusal"  # the 8801 answer is a listed refusal, or nothing was sent
    FINAL_8804 = "final_8804"  # a verified 8804 answer: refused (8) or revoked (9)


class BillStatus(enum.StrEnum):
    RECEIVED = "received"  # 请求原始日志: saved, not yet checked
    VALIDATION_FAILED = "validation_failed"  # 支付校验失败
    RISK_REJECTED = "risk_rejected"  # 风控校验失败
    ACCEPTED = "accepted"  # checks passed, nothing paid yet
    BANK_SUBMITTED = "bank_submitted"  # packet_id committed; 8801 sent or about to be
    BANK_PROCESSING = "bank_processing"  # 8801/8804: 交易处理过程中
    BANK_UNKNOWN = "bank_unknown"  # no trustworthy answer: query, never re-send
    BANK_SUCCEEDED = "bank_succeeded"  # 交易成功: paid by the bank; business processing due
    BANK_FAILED = "bank_failed"  # 拒绝交易: definitely rejected, nothing paid
    TRANSFER_PENDING = "transfer_pending"  # system transfer: business processing due
    BUSINESS_FAILED = "business_failed"  # the business transaction rolled back
    COMPLETED = "completed"  # 终态: ledger, logs and loans written


_S = BillStatus
BANK_STATUSES: frozenset[BillStatus] = frozenset(
    {_S.BANK_SUBMITTED, _S.BANK_PROCESSING, _S.BANK_UNKNOWN, _S.BANK_SUCCEEDED, _S.BANK_FAILED}
)
CHECK_OUTCOMES = {_S.ACCEPTED, _S.VALIDATION_FAILED, _S.RISK_REJECTED}
BANK_ANSWERS = {_S.BANK_PROCESSING, _S.BANK_UNKNOWN, _S.BANK_SUCCEEDED, _S.BANK_FAILED}
BUSINESS_OUTCOMES = {_S.COMPLETED, _S.BUSINESS_FAILED}

# Self-moves record a repeat with the same result (still processing, re-run failed again).
BILL_STATES: StateMachine[BillStatus] = StateMachine(
    "bill",
    {
        _S.RECEIVED: CHECK_OUTCOMES,
        _S.VALIDATION_FAILED: CHECK_OUTCOMES,
        _S.RISK_REJECTED: CHECK_OUTCOMES,
        _S.ACCEPTED: {_S.BANK_SUBMITTED, _S.TRANSFER_PENDING},
        _S.BANK_SUBMITTED: BANK_ANSWERS,
        _S.BANK_PROCESSING: BANK_ANSWERS,
        _S.BANK_UNKNOWN: BANK_ANSWERS,
        _S.BANK_FAILED: {_S.BANK_SUBMITTED, _S.TRANSFER_PENDING},
        _S.BANK_SUCCEEDED: BUSINESS_OUTCOMES,
        _S.TRANSFER_PENDING: BUSINESS_OUTCOMES,
        _S.BUSINESS_FAILED: BUSINESS_OUTCOMES,
        _S.COMPLETED: set(),
    },
)


def move_bill(current: BillStatus, target: BillStatus, pay_mode: PayMode) -> BillStatus:
    """`BILL_STATES.move`, and the bank path only in bank mode, transfer_pending only in transfer.

    `pay_mode` is the mode the bill has after the move (transfer for SWITCH_TO_TRANSFER).
    """
    BILL_STATES.move(current, target)
    if target in BANK_STATUSES and pay_mode is not PayMode.BANK:
        raise IllegalTransition(
            f"bill cannot go to {target.value} in {pay_mode.value} mode: the bank path is for bank mode",
            field="status",
        )
    if target is BillStatus.TRANSFER_PENDING and pay_mode is not PayMode.TRANSFER:
        raise IllegalTransition(
            f"bill cannot go to {target.value} in {pay_mode.value} mode: switch to transfer first",
            field="status",
        )
    return target


# -- the stored bill ----------------------------------------------------------------------------

# BILL_IN_PROCESS. A completed bill, or one refused by a check, holds it as an ordinary
# idempotency key (IDEMPOTENCY_CONFLICT); an operator re-validates a refused one.
IN_PROCESS: frozenset[BillStatus] = frozenset(BillStatus) - {
    BillStatus.COMPLETED,
    BillStatus.VALIDATION_FAILED,
    BillStatus.RISK_REJECTED,
}


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
    payee_bank_no: str | None = None  # CNAPS 联行号 of the payee's bank (the registered card's)
    memo: str | None = None
    attempt: int = 0  # bank attempts made so far; the current one is `attempt`
    payment_id: str | None = None  # the current attempt's payment, once it answered
    failure: BillFailure | None = None
    bank_failure_evidence: BankFailureEvidence | None = None  # bank_failed: how it is known; None: unverified
    loan_open_amount: Money | None = None  # a completed loan: what is left to write off
    loan_state: LoanState | None = None
    loan_reserved_amount: Money | None = None  # a completed loan: reserved by accepted reimbursements
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

    def loan_view(self) -> LoanView | None:
        """A completed loan bill as the write-off rules see it; None for any other bill."""
        if (
            self.kind is not BillKind.LOAN
            or self.status is not BillStatus.COMPLETED
            or self.loan_open_amount is None
            or self.loan_state is None
        ):
            return None
        return LoanView(
            bill_id=self.id,
            bill_code=self.bill_code,
            applicant_account_id=self.applicant_account_id,
            currency=self.currency,
            amount=self.amount,
            open_amount=self.loan_open_amount,
            state=self.loan_state,
            reserved_amount=self.loan_reserved_amount,
        )

    def moved(self, target: BillStatus, at: datetime, **changes: Any) -> Bill:
        """A copy in `target` (a legal move of BILL_STATES for the bill's mode after the move)."""
        mode = changes.get("pay_mode", self.pay_mode)
        move_bill(self.status, target, PayMode(mode) if mode in set(PayMode) else PayMode.TRANSFER)
        return replace(self, status=target, updated_at=at, **changes)

"""The 8801 and 8804 messages as values: the payment we send, its checks, and the answers we read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from core.errors import InvalidArgument
from plugins.spdb.exchange import Exchange, mask_account
from ports.channels import ChannelStatus

FRONT_MACHINE_CONTENT_TYPE = "text/xml; charset=GBK"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal(10) ** 13
VOUCHER = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class PayeeType(StrEnum):
    CORPORATE = "0"  # 对公账户
    PERSONAL = "1"  # 个人卡


class SysFlag(StrEnum):
    SAME_BANK = "0"  # 本行
    OTHER_BANK = "1"  # 他行


class RemitLocation(StrEnum):
    SAME_CITY = "0"  # 同城
    OTHER_CITY = "1"  # 异地


# A CNAPS number (联行号, 12 digits): bank code (3), city code (4), branch (4), check digit.
CNAPS = re.compile(r"^[0-9]{12}$")


def payee_route(payee_bank_no: str, payer_bank_no: str) -> tuple[SysFlag, RemitLocation, str]:
    """sysFlag, remitLocation and the payeeBankNo to send, from the payee bank's CNAPS number
    and the payer branch's: another bank when the bank codes differ (then its CNAPS number is
    sent), another city when the city codes differ. A payee without one is paid as a card of the
    bank itself in its city, where the account number alone is enough."""
    if not payee_bank_no:
        return SysFlag.SAME_BANK, RemitLocation.SAME_CITY, ""
    same_bank = payee_bank_no[:3] == payer_bank_no[:3]
    same_city = payee_bank_no[3:7] == payer_bank_no[3:7]
    return (
        SysFlag.SAME_BANK if same_bank else SysFlag.OTHER_BANK,
        RemitLocation.SAME_CITY if same_city else RemitLocation.OTHER_CITY,
        "" if same_bank else payee_bank_no,
    )


class AnswerStatus(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


# transStatus of 8804: 0 awaiting completion, 1 awaiting posting, 2 awaiting review, 3 awaiting
# authorisation; 4 done; 8 refused; 9 revoked.
_TRANS_STATUS: Mapping[str, ChannelStatus] = {
    "0": ChannelStatus.PROCESSING,
    "1": ChannelStatus.PROCESSING,
    "2": ChannelStatus.PROCESSING,
    "3": ChannelStatus.PROCESSING,
    "4": ChannelStatus.SUCCEEDED,
    "8": ChannelStatus.FAILED,
    "9": ChannelStatus.FAILED,
}


def trans_status_outcome(code: str) -> ChannelStatus:
    """Map an 8804 `transStatus` to the platform's vocabulary; an unknown code is UNKNOWN."""
    return _TRANS_STATUS.get(code.strip(), ChannelStatus.UNKNOWN)


@dataclass(frozen=True, slots=True)
class SinglePayment:
    """One 8801 payment from the payer account in the settings.

    `elec_cheque_no` (电子凭证号) is the enterprise's voucher number and the idempotency key:
    resending the same payment must reuse it. `amount` is yuan as a Decimal with at most two
    decimals. `payee_bank_no` (CNAPS 行号) is needed for a payee at another bank
    (`payee_route` sets the flags and the number from the payee bank's CNAPS number).
    """

    elec_cheque_no: str
    payee_acct_no: str = field(repr=False)
    payee_name: str
    amount: Decimal
    payee_type: PayeeType = PayeeType.PERSONAL
    sys_flag: SysFlag = SysFlag.SAME_BANK
    remit_location: RemitLocation = RemitLocation.SAME_CITY
    payee_bank_name: str = ""
    payee_address: str = ""
    note: str = ""
    payee_bank_select_flag: str = ""
    payee_bank_no: str = ""
    pay_purpose: str = ""
    bespeak_date: date | None = None

    @property
    def masked_payee_acct_no(self) -> str:
        return mask_account(self.payee_acct_no)


@dataclass(frozen=True, slots=True)
class PaymentAnswer:
    """The front machine's answer to 8801.

    ACCEPTED means the bank took the payment in (an `accept_no`, maybe a `trans_status`): the
    final state comes only from 8804. REJECTED means the bank refused the packet with an error
    `return_code` on the list of definite refusals (`packet.DEFINITE_REFUSALS`); nothing was paid.
    """

    status: AnswerStatus
    elec_cheque_no: str
    return_code: str
    return_msg: str
    exchange: Exchange
    accept_no: str | None = None
    trans_status: str | None = None

    @property
    def channel_status(self) -> ChannelStatus:
        """PROCESSING once accepted (poll 8804), FAILED when rejected."""
        if self.status is AnswerStatus.REJECTED:
            return ChannelStatus.FAILED
        return ChannelStatus.PROCESSING


@dataclass(frozen=True, slots=True)
class PaymentQuery:
    """An 8804 query. Dates default to the client's Beijing today; set `begin_date` to the day
    the payment was sent when polling across midnight."""

    elec_cheque_no: str = ""
    accept_no: str = ""
    serial_no: str = ""
    begin_date: date | None = None
    end_date: date | None = None
    query_number: int = 20
    begin_number: int = 1
    single: bool = True


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """One payment in an 8804 answer, with its `transStatus` mapped to `status`."""

    elec_cheque_no: str
    accept_no: str
    serial_no: str
    trans_status: str
    status: ChannelStatus
    amount: Decimal | None
    note: str
    acct_no: str = field(repr=False)
    acct_name: str
    payee_acct_no: str = field(repr=False)
    payee_name: str
    trans_date: str = ""
    bespeak_date: str = ""
    promise_date: str = ""
    sys_flag: str = ""
    remit_location: str = ""
    seq_no: str = ""

    @property
    def refusal_reason(self) -> str | None:
        """Why the bank refused or revoked the payment: it appends the reason to `note`."""
        return (self.note or None) if self.status is ChannelStatus.FAILED else None

    @property
    def masked_payee_acct_no(self) -> str:
        return mask_account(self.payee_acct_no)


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    total_count: int
    results: tuple[PaymentResult, ...]
    exchange: Exchange

    def for_cheque(self, elec_cheque_no: str) -> PaymentResult | None:
        """The result for one voucher number; None when the bank does not list it (yet)."""
        return next((r for r in self.results if r.elec_cheque_no == elec_cheque_no), None)


def validate_payment(payment: SinglePayment) -> None:
    if not VOUCHER.match(payment.elec_cheque_no):
        raise InvalidArgument("elecChequeNo must be 1-32 letters, digits, '-' or '_'", field="elec_cheque_no")
    amount = payment.amount
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidArgument(
            "amount must be a finite Decimal in yuan", field="amount", code="INVALID_AMOUNT"
        )
    exponent = amount.as_tuple().exponent
    if not Decimal(0) < amount < MAX_AMOUNT or not isinstance(exponent, int) or exponent < -2:
        raise InvalidArgument(
            "amount must be positive, below 10^13 yuan, with at most two decimals",
            field="amount",
            code="INVALID_AMOUNT",
        )
    if not payment.payee_acct_no.strip() or not payment.payee_name.strip():
        raise InvalidArgument("payee account number and name are required", field="payee")
    if payment.sys_flag is SysFlag.OTHER_BANK and not CNAPS.match(payment.payee_bank_no):
        raise InvalidArgument(
            "a payee at another bank needs its bank's 12-digit CNAPS number (payeeBankNo)",
            field="payee_bank_no",
        )


def payment_result(row: Mapping[str, str]) -> PaymentResult:
    code = row.get("transStatus", "")
    raw_amount = row.get("amount", "")
    amount: Decimal | None = None
    if raw_amount:
        try:
            amount = Decimal(raw_amount)
        except InvalidOperation as exc:
            raise ValueError(f"amount {raw_amount!r} is not a number") from exc
        if not amount.is_finite() or not -MAX_AMOUNT < amount < MAX_AMOUNT:
            raise ValueError(f"amount {raw_amount!r} is not a sane amount")
        amount = amount.quantize(CENT)
    return PaymentResult(
        elec_cheque_no=row.get("elecChequeNo", ""),
        accept_no=row.get("acceptNo", ""),
        serial_no=row.get("serialNo", ""),
        trans_status=code,
        status=trans_status_outcome(code),
        amount=amount,
        note=row.get("note", ""),
        acct_no=row.get("acctNo", ""),
        acct_name=row.get("acctName", ""),
        payee_acct_no=row.get("payeeAcctNo", ""),
        payee_name=row.get("payeeName", ""),
        trans_date=row.get("transDate", ""),
        bespeak_date=row.get("bespeakDate", ""),
        promise_date=row.get("PromiseDate", ""),
        sys_flag=row.get("sysFlag", ""),
        remit_location=row.get("remitLocation", ""),
        seq_no=row.get("seqNo", ""),
    )

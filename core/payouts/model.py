"""The payout: the checked application, finance's review, the status and its state machine."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from core.money import Money
from core.payments.model import request_fingerprint
from core.state import StateMachine

PAYOUT_CURRENCY = "CNY"


class PayoutType(enum.IntEnum):
    """支付单类型 (ExtData `type`). 0–7 are the seed's; 8 is the form's "test-bill
    reimbursement" (测试单报销), which the seed's enum lacks and which needs a voucher."""

    OTHER = 0  # 其他
    REFUND_BALANCE = 1  # 退余款
    COMPLAINT_BORNE_BY_COMPANY = 2  # 投诉赔款-公司承担
    COMPLAINT_BORNE_BY_SUPPLIER = 3  # 投诉赔款-供应商承担
    SUPPLIER_PAYMENT = 4  # 正常向供应商打款
    AIRLINE_REBOOKING = 5  # 改签向航空公司打款
    FLIGHT_DELAY_ADVANCE = 6  # 航延险垫付
    REVIEW_BONUS = 7  # 点评奖金充值
    TEST_REIMBURSEMENT = 8  # 测试单报销

    @property
    def label(self) -> str:
        return self.name.lower()


class PayMethod(enum.StrEnum):
    """How the money goes out; also the pay method the payout's payment is routed by."""

    ALIPAY = "alipay"
    BANK = "bank"


# ExtData `payMethod`: 1 Alipay, 2 bank transfer, 3 credit card (快钱信用卡, not supported)
PAY_METHOD_CODES: dict[int, PayMethod] = {1: PayMethod.ALIPAY, 2: PayMethod.BANK}
CREDIT_CARD_CODE = 3


class PayBackType(enum.IntEnum):
    """支付退回类型: recorded for analysis; the money always goes to the given account."""

    DEFAULT = 0  # 默认 (suppliers)
    ORIGINAL_ROUTE = 1  # 原路
    NON_ORIGINAL_ROUTE = 2  # 非原路


class BusinessType(enum.StrEnum):
    C = "C"  # consumer side (C端): a bank payee is a personal account
    B = "B"  # business side (B端): a bank payee is a corporate account


class PayoutStatus(enum.StrEnum):
    PENDING_REVIEW = "pending_review"  # applied, waiting for finance review
    APPROVED = "approved"  # finance approved; the payment is being submitted
    REJECTED = "rejected"  # finance refused it: never paid
    PAYING = "paying"  # the channel is working on it (or its answer is not known yet)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # paid, then the channel gave the money back (a bank card bounce, 退票): a late channel
    # fact, reachable only from succeeded; the payout's payment stays succeeded
    RETURNED = "returned"


PAYOUT_STATES: StateMachine[PayoutStatus] = StateMachine(
    "payout",
    {
        PayoutStatus.PENDING_REVIEW: {PayoutStatus.APPROVED, PayoutStatus.REJECTED},
        PayoutStatus.APPROVED: {PayoutStatus.PAYING, PayoutStatus.SUCCEEDED, PayoutStatus.FAILED},
        PayoutStatus.PAYING: {PayoutStatus.SUCCEEDED, PayoutStatus.FAILED},
        PayoutStatus.REJECTED: set(),
        PayoutStatus.SUCCEEDED: {PayoutStatus.RETURNED},
        PayoutStatus.FAILED: set(),
        PayoutStatus.RETURNED: set(),
    },
)

# A final payout's result is published to its caller. Succeeded is final (the caller is told),
# yet a late channel fact can still move it to returned: its only way out.
FINAL_PAYOUT_STATUSES = frozenset(
    {PayoutStatus.REJECTED, PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.RETURNED}
)


@dataclass(frozen=True, slots=True)
class BankInfo:
    main_bank: str
    province: str
    city: str
    branch: str
    bank_code: str | None = None


@dataclass(frozen=True, slots=True)
class Voucher:
    ref: str
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutApplication:
    """A checked item: what the caller asked to pay, and why."""

    serial_no: str
    order_serial_no: str
    payee_account: str
    amount: Money
    type: PayoutType
    pay_method: PayMethod
    pay_back_type: PayBackType
    reason: str
    business_type: BusinessType
    send_sms: bool = False
    payee_name: str | None = None
    insurance_merchant: str | None = None
    creator: str | None = None
    bank: BankInfo | None = None
    voucher: Voucher | None = None
    sms_phone: str | None = None  # where the SMS goes; None: the payee account, if a mobile number
    pay_type: int | None = None  # ExtData payType 支付方式(原路), recorded

    def canonical(self) -> dict[str, Any]:
        """The application as plain data: what its fingerprint covers."""
        return {
            "serial_no": self.serial_no,
            "order_serial_no": self.order_serial_no,
            "payee_account": self.payee_account,
            "amount": str(self.amount),
            "currency": self.amount.currency,
            "type": int(self.type),
            "pay_method": self.pay_method.value,
            "pay_back_type": int(self.pay_back_type),
            "reason": self.reason,
            "business_type": self.business_type.value,
            "send_sms": self.send_sms,
            "payee_name": self.payee_name,
            "insurance_merchant": self.insurance_merchant,
            "creator": self.creator,
            "bank": _bank_json(self.bank),
            "voucher": _voucher_json(self.voucher),
            "sms_phone": self.sms_phone,
            "pay_type": self.pay_type,
        }

    def fingerprint(self) -> str:
        data = self.canonical()
        for later in ("sms_phone", "pay_type"):  # added later: absent, they leave older fingerprints alone
            if data[later] is None:
                del data[later]
        return request_fingerprint(data)


def _bank_json(bank: BankInfo | None) -> dict[str, Any] | None:
    if bank is None:
        return None
    return {
        "main_bank": bank.main_bank,
        "province": bank.province,
        "city": bank.city,
        "branch": bank.branch,
        "bank_code": bank.bank_code,
    }


def _voucher_json(voucher: Voucher | None) -> dict[str, Any] | None:
    return None if voucher is None else {"ref": voucher.ref, "sha256": voucher.sha256}


def bank_from_json(data: Mapping[str, Any] | None) -> BankInfo | None:
    return None if not data else BankInfo(**data)


def voucher_from_json(data: Mapping[str, Any] | None) -> Voucher | None:
    return None if not data else Voucher(**data)


@dataclass(frozen=True, slots=True)
class Review:
    """Finance's decision: who, when, and the note (the reason of a rejection)."""

    decision: Literal["approved", "rejected"]
    reviewer: str
    at: datetime
    operator: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "reviewer": self.reviewer,
            "at": self.at.isoformat(),
            "operator": self.operator,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Review | None:
        if not data:
            return None
        return cls(
            data["decision"],
            data["reviewer"],
            datetime.fromisoformat(data["at"]),
            data.get("operator"),
            data.get("note"),
        )


@dataclass(frozen=True, slots=True)
class Payout:
    """One outward payment of a caller app, from application to result."""

    id: str
    app_id: str
    application: PayoutApplication
    request_hash: str
    status: PayoutStatus
    created_at: datetime
    updated_at: datetime
    source_platform: str | None = None
    trace_id: str | None = None
    review: Review | None = None
    payment_id: str | None = None
    channel: str | None = None
    channel_ref: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    finished_at: datetime | None = None

    @property
    def serial_no(self) -> str:
        return self.application.serial_no

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_PAYOUT_STATUSES

    def moved(self, target: PayoutStatus, at: datetime, **changes: Any) -> Payout:
        """A copy in `target` status; illegal moves raise IllegalTransition."""
        if target is not self.status or self.is_final:
            PAYOUT_STATES.move(self.status, target)
        if target in FINAL_PAYOUT_STATUSES:
            changes.setdefault("finished_at", at)
        return replace(self, status=target, updated_at=at, **changes)


def payment_out_request_no(payout_id: str) -> str:
    """The payout's one payment: '/' never appears in a caller's out_request_no, so no caller
    payment can take it, and a retried approval finds the same payment (same out_biz_no)."""
    return f"payout/{payout_id}"

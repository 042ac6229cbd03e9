"""Outward payments (对外支付, seed 001): the payout, its review state machine, the check of
each applied item, and the grouping rules of the payout report.

A caller app applies for payouts in a batch; every item is checked on its own and stored as a
payout waiting for finance review (财务审核). An approved payout is paid through a channel; a
rejected one never is. Every payout keeps its source platform (the app, plus an optional
label) and its fine-grained reason (type + reason), so compensation data can be analysed
(seed §6).
"""

from __future__ import annotations

import csv
import enum
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import DomainError, InvalidArgument
from core.money import Money
from core.payments.model import request_fingerprint
from core.state import StateMachine

PAYOUT_CURRENCY = "CNY"
MAX_BATCH_ITEMS = 100  # items in one application


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


PAYOUT_STATES: StateMachine[PayoutStatus] = StateMachine(
    "payout",
    {
        PayoutStatus.PENDING_REVIEW: {PayoutStatus.APPROVED, PayoutStatus.REJECTED},
        PayoutStatus.APPROVED: {PayoutStatus.PAYING, PayoutStatus.SUCCEEDED, PayoutStatus.FAILED},
        PayoutStatus.PAYING: {PayoutStatus.SUCCEEDED, PayoutStatus.FAILED},
        PayoutStatus.REJECTED: set(),
        PayoutStatus.SUCCEEDED: set(),
        PayoutStatus.FAILED: set(),
    },
)

FINAL_PAYOUT_STATUSES = frozenset({PayoutStatus.REJECTED, PayoutStatus.SUCCEEDED, PayoutStatus.FAILED})


class ItemCode(enum.StrEnum):
    """Why an applied item was rejected; each item is answered on its own."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"  # missing, unknown or mistyped field
    INVALID_AMOUNT = "INVALID_AMOUNT"  # not a positive decimal string with at most 2 decimals
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    INVALID_PAYOUT_TYPE = "INVALID_PAYOUT_TYPE"
    INVALID_PAY_METHOD = "INVALID_PAY_METHOD"
    UNSUPPORTED_PAY_METHOD = "UNSUPPORTED_PAY_METHOD"  # 3, credit card
    INVALID_PAY_BACK_TYPE = "INVALID_PAY_BACK_TYPE"
    PAYEE_NAME_REQUIRED = "PAYEE_NAME_REQUIRED"
    BANK_INFO_REQUIRED = "BANK_INFO_REQUIRED"
    BANK_INFO_NOT_APPLICABLE = "BANK_INFO_NOT_APPLICABLE"
    VOUCHER_REQUIRED = "VOUCHER_REQUIRED"
    AMOUNT_LIMIT_EXCEEDED = "AMOUNT_LIMIT_EXCEEDED"
    NO_ROUTE = "NO_ROUTE"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"


# An Alipay user id (2088 + 12 digits) needs no payee name; a logon id (e-mail, phone) does.
_ALIPAY_USER_ID = re.compile(r"^2088[0-9]{12}$")


def is_alipay_user_id(account: str) -> bool:
    return _ALIPAY_USER_ID.match(account) is not None


def mask_account(value: str) -> str:
    """A payee account for logs and views: enough to recognise, too little to use.

    6222021234567890123 -> 6222***********0123; alice@example.com -> a****@example.com.
    """
    local, at, domain = value.partition("@")
    if at:
        return (local[:1] + "*" * max(len(local) - 1, 1)) + "@" + domain
    if len(value) > 8:
        return value[:4] + "*" * (len(value) - 8) + value[-4:]
    return "*" * max(len(value) - 2, 1) + value[-2:] if len(value) > 2 else "*" * len(value)


# -- the applied item ------------------------------------------------------------------------
_SERIAL = r"^[A-Za-z0-9_.:\-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        # forms send "" for fields that do not apply (bank fields of an Alipay payout)
        return None if isinstance(value, str) and not value.strip() else value


class BankInfoBody(_Strict):
    """开户银行: the payee's bank, for bank payouts (each field is checked by `check_item`)."""

    main_bank: str | None = Field(default=None, max_length=128, description="head bank (开户银行总行)")
    province: str | None = Field(default=None, max_length=64, description="branch province (支行所在省)")
    city: str | None = Field(default=None, max_length=64, description="branch city (支行所在市)")
    branch: str | None = Field(default=None, max_length=128, description="branch (开户银行支行)")
    bank_code: str | None = Field(default=None, max_length=32, description="bank code, if known")

    @property
    def given(self) -> bool:
        return any((self.main_bank, self.province, self.city, self.branch, self.bank_code))

    @property
    def missing(self) -> list[str]:
        present = {
            "main_bank": self.main_bank,
            "province": self.province,
            "city": self.city,
            "branch": self.branch,
        }
        return [name for name, value in present.items() if not value]


class VoucherBody(_Strict):
    """An uploaded voucher (凭证), by reference: the platform stores the reference, not the file."""

    ref: str = Field(max_length=256, description="where the caller stored the file (URL or file id)")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="file digest")


class PayoutExtBody(_Strict):
    """ExtData of seed §3.1, with snake_case names."""

    type: int = Field(description="0 other … 7 review bonus top-up; 8 test-bill reimbursement")
    pay_method: int = Field(description="1 Alipay, 2 bank transfer (3 credit card: unsupported)")
    pay_back_type: int = Field(default=0, description="0 default, 1 original route, 2 non-original")
    reason: str = Field(max_length=256, description="支付原因 (paidRemark)")
    payee_name: str | None = Field(default=None, max_length=128, description="收款人姓名")
    insurance_merchant: str | None = Field(default=None, max_length=128, description="保险供应商")
    bank: BankInfoBody | None = None
    business_type: Literal["C", "B"] = "C"
    send_sms: bool = False
    creator: str | None = Field(default=None, max_length=64, description="业务审核人 (reviewer)")
    voucher: VoucherBody | None = None


class PayoutItemBody(_Strict):
    """One item of a payout application (OutwardPayDataDTO)."""

    serial_no: str = Field(max_length=64, pattern=_SERIAL, description="项目对外支付流水号")
    order_serial_no: str = Field(max_length=64, description="订单流水号")
    payee_account: str = Field(max_length=128, description="收款账号: Alipay account or bank card")
    amount: str = Field(description='decimal string, at most 2 decimals, e.g. "12.30"')
    currency: str = PAYOUT_CURRENCY
    ext: PayoutExtBody


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
        }

    def fingerprint(self) -> str:
        return request_fingerprint(self.canonical())


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
class ItemProblem:
    """Why one item was rejected: a stable code, a message, the field at fault."""

    code: str
    message: str
    field: str | None = None


def _validation_problem(exc: ValidationError) -> ItemProblem:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or None
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    elif first["type"] == "missing" or first.get("input", ...) is None:
        message = "this field is required"
    else:
        message = first["msg"]
    code = ItemCode.INVALID_AMOUNT if where == "amount" else ItemCode.INVALID_ARGUMENT
    return ItemProblem(code, f"{where}: {message}" if where else message, where)


def _parse_item(raw: object) -> PayoutItemBody | ItemProblem:
    if isinstance(raw, Mapping) and isinstance(raw.get("ext"), str):
        # the seed sends ExtData as a JSON string; an object is accepted as well
        try:
            raw = {**raw, "ext": json.loads(raw["ext"])}
        except ValueError:
            return ItemProblem(ItemCode.INVALID_ARGUMENT, "ext: not a JSON object", "ext")
    if not isinstance(raw, Mapping):
        return ItemProblem(ItemCode.INVALID_ARGUMENT, "an item must be a JSON object", None)
    try:
        return PayoutItemBody.model_validate(dict(raw))
    except ValidationError as exc:
        return _validation_problem(exc)


def check_item(raw: object) -> PayoutApplication | ItemProblem:
    """Check one applied item on its own: its shape, then the payout rules, first fault wins."""
    body = _parse_item(raw)
    if isinstance(body, ItemProblem):
        return body
    ext = body.ext
    if body.currency != PAYOUT_CURRENCY:
        return ItemProblem(
            ItemCode.UNSUPPORTED_CURRENCY, f"payouts are paid in {PAYOUT_CURRENCY} only", "currency"
        )
    try:
        amount = Money.parse(body.amount, body.currency)
    except DomainError as exc:
        return ItemProblem(ItemCode.INVALID_AMOUNT, exc.message, "amount")
    try:
        payout_type = PayoutType(ext.type)
    except ValueError:
        return ItemProblem(
            ItemCode.INVALID_PAYOUT_TYPE, f"type {ext.type} is not a payout type (0–8)", "ext.type"
        )
    if ext.pay_method == CREDIT_CARD_CODE:
        return ItemProblem(
            ItemCode.UNSUPPORTED_PAY_METHOD,
            "pay method 3 (credit card) is not supported: use 1 (Alipay) or 2 (bank transfer)",
            "ext.pay_method",
        )
    if ext.pay_method not in PAY_METHOD_CODES:
        return ItemProblem(
            ItemCode.INVALID_PAY_METHOD,
            f"pay_method {ext.pay_method} is not 1 (Alipay) or 2 (bank transfer)",
            "ext.pay_method",
        )
    try:
        pay_back_type = PayBackType(ext.pay_back_type)
    except ValueError:
        return ItemProblem(
            ItemCode.INVALID_PAY_BACK_TYPE,
            f"pay_back_type {ext.pay_back_type} is not 0, 1 or 2",
            "ext.pay_back_type",
        )
    pay_method = PAY_METHOD_CODES[ext.pay_method]
    bank = ext.bank if ext.bank is not None and ext.bank.given else None
    if pay_method is PayMethod.BANK:
        missing = ["main_bank", "province", "city", "branch"] if bank is None else bank.missing
        if missing:
            return ItemProblem(
                ItemCode.BANK_INFO_REQUIRED,
                f"a bank payout needs ext.bank.{missing[0]} (head bank, province, city and branch)",
                f"ext.bank.{missing[0]}",
            )
        if not ext.payee_name:
            return ItemProblem(
                ItemCode.PAYEE_NAME_REQUIRED, "a bank payout needs the payee's name", "ext.payee_name"
            )
    else:
        if bank is not None:
            return ItemProblem(
                ItemCode.BANK_INFO_NOT_APPLICABLE,
                "bank details are only for bank payouts (pay_method 2)",
                "ext.bank",
            )
        if not ext.payee_name and not is_alipay_user_id(body.payee_account):
            return ItemProblem(
                ItemCode.PAYEE_NAME_REQUIRED,
                "Alipay needs the payee's name for a logon id (e-mail or phone); "
                "only an Alipay user id (2088…) may go without",
                "ext.payee_name",
            )
    if payout_type is PayoutType.TEST_REIMBURSEMENT and ext.voucher is None:
        return ItemProblem(
            ItemCode.VOUCHER_REQUIRED,
            "a test-bill reimbursement (type 8) needs the uploaded voucher: ext.voucher.ref",
            "ext.voucher",
        )
    return PayoutApplication(
        serial_no=body.serial_no,
        order_serial_no=body.order_serial_no,
        payee_account=body.payee_account,
        amount=amount,
        type=payout_type,
        pay_method=pay_method,
        pay_back_type=pay_back_type,
        reason=ext.reason,
        business_type=BusinessType(ext.business_type),
        send_sms=ext.send_sms,
        payee_name=ext.payee_name,
        insurance_merchant=ext.insurance_merchant,
        creator=ext.creator,
        bank=None
        if bank is None or pay_method is not PayMethod.BANK
        else BankInfo(
            str(bank.main_bank), str(bank.province), str(bank.city), str(bank.branch), bank.bank_code
        ),
        voucher=None if ext.voucher is None else Voucher(ext.voucher.ref, ext.voucher.sha256),
    )


# -- the payout ------------------------------------------------------------------------------
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


# -- the report ------------------------------------------------------------------------------
class ReportKey(enum.StrEnum):
    """What the payout report may group by, and the columns each key contributes."""

    PLATFORM = "platform"
    TYPE = "type"
    PAY_METHOD = "pay_method"
    STATUS = "status"
    DAY = "day"

    @property
    def columns(self) -> tuple[str, ...]:
        return _REPORT_COLUMNS[self]


_REPORT_COLUMNS: dict[ReportKey, tuple[str, ...]] = {
    ReportKey.PLATFORM: ("app_id", "source_platform"),
    ReportKey.TYPE: ("type", "type_name"),
    ReportKey.PAY_METHOD: ("pay_method",),
    ReportKey.STATUS: ("status",),
    ReportKey.DAY: ("day",),
}
DEFAULT_GROUP_BY = (ReportKey.PLATFORM, ReportKey.TYPE)


def parse_group_by(raw: str | None) -> tuple[ReportKey, ...]:
    """`platform,type,...` -> keys in the given order, duplicates dropped; none: the default."""
    if raw is None or not raw.strip():
        return DEFAULT_GROUP_BY
    keys: dict[ReportKey, None] = {}
    for part in raw.split(","):
        name = part.strip()
        try:
            keys[ReportKey(name)] = None
        except ValueError:
            allowed = ", ".join(k.value for k in ReportKey)
            raise InvalidArgument(
                f"cannot group by {name!r}; use any of {allowed}", field="group_by"
            ) from None
    return tuple(keys)


def parse_day(raw: str | None, name: str) -> date | None:
    if raw is None:
        return None
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidArgument(f"{name} must be a date YYYY-MM-DD", field=name) from None


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """Payouts applied from `start` to `end` (UTC days, both included), grouped by `group_by`."""

    start: date | None
    end: date | None
    group_by: tuple[ReportKey, ...]
    app_id: str | None = None

    @classmethod
    def parse(
        cls, start: str | None, end: str | None, group_by: str | None, app_id: str | None = None
    ) -> ReportQuery:
        query = cls(parse_day(start, "from"), parse_day(end, "to"), parse_group_by(group_by), app_id)
        if query.start and query.end and query.start > query.end:
            raise InvalidArgument("from must not be after to", field="from")
        return query

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for key in self.group_by for c in key.columns) + ("currency",)


@dataclass(frozen=True, slots=True)
class ReportGroup:
    keys: Mapping[str, Any]
    count: int
    amount: Money


@dataclass(frozen=True, slots=True)
class PayoutReport:
    query: ReportQuery
    groups: Sequence[ReportGroup]

    def totals(self) -> list[dict[str, Any]]:
        """Count and amount per currency over every group."""
        sums: dict[str, tuple[int, int]] = {}
        for g in self.groups:
            count, minor = sums.get(g.amount.currency, (0, 0))
            sums[g.amount.currency] = (count + g.count, minor + g.amount.minor)
        return [
            {"currency": cur, "count": count, "amount": str(Money(minor, cur))}
            for cur, (count, minor) in sorted(sums.items())
        ]

    def to_json(self) -> dict[str, Any]:
        q = self.query
        return {
            "from": q.start.isoformat() if q.start else None,
            "to": q.end.isoformat() if q.end else None,
            "group_by": [k.value for k in q.group_by],
            "groups": [{**g.keys, "count": g.count, "amount": str(g.amount)} for g in self.groups],
            "totals": self.totals(),
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        columns = self.query.columns
        writer.writerow([*columns, "count", "amount"])
        for g in self.groups:
            writer.writerow(
                [*("" if g.keys.get(c) is None else g.keys[c] for c in columns), g.count, str(g.amount)]
            )
        return out.getvalue()


def report_keys(key: ReportKey, row: Mapping[str, Any]) -> dict[str, Any]:
    """The report columns of `key` from a grouped row (type_name is derived from type)."""
    if key is ReportKey.TYPE:
        return {"type": row["type"], "type_name": PayoutType(row["type"]).label}
    return {c: row[c] for c in key.columns}

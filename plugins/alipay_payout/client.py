"""Wire functions of the Alipay payout channel: uni.transfer, common.query, order.changed."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from plugins.alipay_openapi.client import AlipayClient, encode_biz_content
from plugins.alipay_openapi.codes import SubCodeClass, normalise_sub_code
from plugins.alipay_openapi.errors import MalformedResponseError
from plugins.alipay_openapi.response import OpenApiResponse
from plugins.alipay_openapi.times import parse_alipay_time

TRANSFER_METHOD = "alipay.fund.trans.uni.transfer"
QUERY_METHOD = "alipay.fund.trans.common.query"
ORDER_CHANGED_METHOD = "alipay.fund.trans.order.changed"
DIRECT_TRANSFER = "DIRECT_TRANSFER"
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"

_CENT = Decimal("0.01")
_AMOUNT = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


class ProductCode(enum.StrEnum):
    TRANS_ACCOUNT_NO_PWD = "TRANS_ACCOUNT_NO_PWD"  # to an Alipay account
    TRANS_BANKCARD_NO_PWD = "TRANS_BANKCARD_NO_PWD"  # to a bank card


class IdentityType(enum.StrEnum):
    ALIPAY_USER_ID = "ALIPAY_USER_ID"
    ALIPAY_LOGON_ID = "ALIPAY_LOGON_ID"
    BANKCARD_ACCOUNT = "BANKCARD_ACCOUNT"


class BankAccountType(enum.StrEnum):
    CORPORATE = "1"
    PERSONAL = "2"


class TransferStatus(enum.StrEnum):
    """Alipay's transfer status. REFUND: a bank-card transfer that succeeded then bounced."""

    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    DEALING = "DEALING"
    REFUND = "REFUND"

    @classmethod
    def parse(cls, raw: str | None) -> TransferStatus | None:
        try:
            return cls(raw) if raw else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class BankcardExtInfo:
    """Bank details of a bank-card payee (`payee_info.bankcard_ext_info`)."""

    account_type: BankAccountType
    inst_name: str
    inst_province: str | None = None
    inst_city: str | None = None
    inst_branch_name: str | None = None
    bank_code: str | None = None

    def to_wire(self) -> dict[str, str]:
        wire = {
            "account_type": self.account_type.value,
            "inst_name": self.inst_name,
            "inst_province": self.inst_province,
            "inst_city": self.inst_city,
            "inst_branch_name": self.inst_branch_name,
            "bank_code": self.bank_code,
        }
        return {key: value for key, value in wire.items() if value}


@dataclass(frozen=True, slots=True)
class Payee:
    """Who receives the money (`payee_info`). A name is required for logon ids and cards."""

    identity: str
    identity_type: IdentityType
    name: str | None = None
    bankcard_ext_info: BankcardExtInfo | None = None

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("payee identity is required")
        if self.identity_type is not IdentityType.ALIPAY_USER_ID and not self.name:
            raise ValueError(f"payee name is required for {self.identity_type.value}")
        is_card = self.identity_type is IdentityType.BANKCARD_ACCOUNT
        if is_card and self.bankcard_ext_info is None:
            raise ValueError("bankcard_ext_info is required for a bank-card payee")
        if not is_card and self.bankcard_ext_info is not None:
            raise ValueError("bankcard_ext_info is only for BANKCARD_ACCOUNT payees")

    @property
    def product_code(self) -> ProductCode:
        if self.identity_type is IdentityType.BANKCARD_ACCOUNT:
            return ProductCode.TRANS_BANKCARD_NO_PWD
        return ProductCode.TRANS_ACCOUNT_NO_PWD

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "identity": self.identity,
            "identity_type": self.identity_type.value,
        }
        if self.name:
            wire["name"] = self.name
        if self.bankcard_ext_info is not None:
            wire["bankcard_ext_info"] = self.bankcard_ext_info.to_wire()
        return wire


def format_trans_amount(amount: Decimal) -> str:
    """Yuan with exactly two decimals; refuses floats, sub-cent precision and non-positives."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise TypeError("trans_amount must be a finite Decimal")
    if amount <= 0:
        raise ValueError("trans_amount must be positive")
    quantized = amount.quantize(_CENT)
    if quantized != amount:
        raise ValueError(f"trans_amount {amount} is finer than a cent")
    return f"{quantized:.2f}"


@dataclass(frozen=True, slots=True)
class TransferOrder:
    """One payout. `out_biz_no` is the idempotency key: a resend must carry identical fields."""

    out_biz_no: str
    trans_amount: Decimal
    payee: Payee
    order_title: str
    remark: str | None = None
    business_params: Mapping[str, str] | None = None
    biz_scene: str = DIRECT_TRANSFER

    @property
    def product_code(self) -> ProductCode:
        return self.payee.product_code

    def to_biz_content(self) -> dict[str, Any]:
        biz: dict[str, Any] = {
            "out_biz_no": self.out_biz_no,
            "trans_amount": format_trans_amount(self.trans_amount),
            "product_code": self.product_code.value,
            "biz_scene": self.biz_scene,
            "order_title": self.order_title,
            "payee_info": self.payee.to_wire(),
        }
        if self.remark:
            biz["remark"] = self.remark
        if self.business_params:
            # Alipay takes business_params as a JSON string inside biz_content.
            biz["business_params"] = encode_biz_content(self.business_params)
        return biz


def parse_answer_amount(raw: Any, name: str) -> Decimal | None:
    if raw is None or raw == "":
        return None
    text = str(raw).strip()
    if not _AMOUNT.match(text):
        raise MalformedResponseError(f"{name} {text!r} is not a decimal amount")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards this
        raise MalformedResponseError(f"{name} {text!r} is not a decimal amount") from exc


def parse_answer_time(raw: Any) -> datetime | None:
    if not raw:
        return None
    try:
        return parse_alipay_time(str(raw))
    except ValueError:
        return None  # informational only; the raw text stays in `response.body`


def text_field(source: Mapping[str, Any], name: str) -> str | None:
    value = source.get(name)
    return None if value is None or value == "" else str(value)


@dataclass(frozen=True, slots=True)
class TransferResult:
    """The verified answer to a transfer. `accepted` is code 10000; then `status` says where
    the transfer stands. Otherwise `classification` says what the failure means."""

    out_biz_no: str
    accepted: bool
    status: TransferStatus | None
    raw_status: str | None
    order_id: str | None
    pay_fund_order_id: str | None
    trans_date: datetime | None
    code: str
    sub_code: str | None
    sub_msg: str | None
    classification: SubCodeClass | None
    response: OpenApiResponse = field(repr=False)

    @classmethod
    def from_response(cls, out_biz_no: str, response: OpenApiResponse) -> TransferResult:
        raw_status = response.get("status") if response.is_success else None
        return cls(
            out_biz_no=response.get("out_biz_no") or out_biz_no,
            accepted=response.is_success,
            status=TransferStatus.parse(raw_status),
            raw_status=raw_status,
            order_id=response.get("order_id"),
            pay_fund_order_id=response.get("pay_fund_order_id"),
            trans_date=parse_answer_time(response.get("trans_date")),
            code=response.code,
            sub_code=response.sub_code,
            sub_msg=response.sub_msg,
            classification=response.classification,
            response=response,
        )


async def transfer(
    client: AlipayClient,
    order: TransferOrder,
    *,
    notify_url: str | None = None,
    timeout_seconds: float | None = None,
) -> TransferResult:
    """Send `alipay.fund.trans.uni.transfer`.

    Raises `UnknownOutcomeError` (timeout, transport failure, unverifiable answer): the
    transfer may exist, so query it, or resend this very `order`; never a new out_biz_no.
    """
    response = await client.execute(
        TRANSFER_METHOD,
        order.to_biz_content(),
        notify_url=notify_url,
        timeout_seconds=timeout_seconds,
    )
    return TransferResult.from_response(order.out_biz_no, response)


@dataclass(frozen=True, slots=True)
class TransferQuery:
    """What to look a transfer up by: Alipay prefers pay_fund_order_id, then order_id, then
    out_biz_no (which needs product_code and biz_scene)."""

    out_biz_no: str | None = None
    product_code: ProductCode | None = None
    biz_scene: str | None = None
    order_id: str | None = None
    pay_fund_order_id: str | None = None

    def __post_init__(self) -> None:
        if self.pay_fund_order_id or self.order_id:
            return
        if not (self.out_biz_no and self.product_code and self.biz_scene):
            raise ValueError("query by pay_fund_order_id, order_id, or out_biz_no + product_code + biz_scene")

    @classmethod
    def by_out_biz_no(
        cls, out_biz_no: str, product_code: ProductCode, biz_scene: str = DIRECT_TRANSFER
    ) -> TransferQuery:
        return cls(out_biz_no=out_biz_no, product_code=product_code, biz_scene=biz_scene)

    @classmethod
    def for_order(cls, order: TransferOrder) -> TransferQuery:
        return cls.by_out_biz_no(order.out_biz_no, order.product_code, order.biz_scene)

    @classmethod
    def by_order_id(cls, order_id: str) -> TransferQuery:
        return cls(order_id=order_id)

    @classmethod
    def by_pay_fund_order_id(cls, pay_fund_order_id: str) -> TransferQuery:
        return cls(pay_fund_order_id=pay_fund_order_id)

    def to_biz_content(self) -> dict[str, str]:
        wire = {
            "out_biz_no": self.out_biz_no,
            "product_code": self.product_code.value if self.product_code else None,
            "biz_scene": self.biz_scene,
            "order_id": self.order_id,
            "pay_fund_order_id": self.pay_fund_order_id,
        }
        return {key: value for key, value in wire.items() if value}


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The verified answer to a query. `found` is False only for ORDER_NOT_EXIST, which does
    NOT mean the transfer failed (it may not be visible yet): never map it to a failure."""

    found: bool
    status: TransferStatus | None
    raw_status: str | None
    out_biz_no: str | None
    order_id: str | None
    pay_fund_order_id: str | None
    trans_amount: Decimal | None
    pay_date: datetime | None
    arrival_time_end: datetime | None
    order_fee: Decimal | None
    error_code: str | None
    fail_reason: str | None
    code: str
    sub_code: str | None
    sub_msg: str | None
    classification: SubCodeClass | None
    response: OpenApiResponse = field(repr=False)

    @property
    def answered(self) -> bool:
        """True when Alipay reported the transfer's status (code 10000)."""
        return self.response.is_success

    @classmethod
    def from_response(cls, response: OpenApiResponse) -> QueryResult:
        not_found = (
            not response.is_success
            and response.sub_code is not None
            and normalise_sub_code(response.sub_code) == ORDER_NOT_EXIST
        )
        ok = response.is_success
        raw_status = response.get("status") if ok else None
        return cls(
            found=not not_found,
            status=TransferStatus.parse(raw_status),
            raw_status=raw_status,
            out_biz_no=response.get("out_biz_no"),
            order_id=response.get("order_id"),
            pay_fund_order_id=response.get("pay_fund_order_id"),
            trans_amount=parse_answer_amount(response.body.get("trans_amount"), "trans_amount"),
            pay_date=parse_answer_time(response.get("pay_date")),
            arrival_time_end=parse_answer_time(response.get("arrival_time_end")),
            order_fee=parse_answer_amount(response.body.get("order_fee"), "order_fee"),
            error_code=response.get("error_code"),
            fail_reason=response.get("fail_reason"),
            code=response.code,
            sub_code=response.sub_code,
            sub_msg=response.sub_msg,
            classification=response.classification,
            response=response,
        )


async def query_transfer(
    client: AlipayClient, query: TransferQuery, *, timeout_seconds: float | None = None
) -> QueryResult:
    """Send `alipay.fund.trans.common.query`. Raises `UnknownOutcomeError` like `transfer`."""
    response = await client.execute(QUERY_METHOD, query.to_biz_content(), timeout_seconds=timeout_seconds)
    return QueryResult.from_response(response)

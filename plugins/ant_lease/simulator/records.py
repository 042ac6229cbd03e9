"""The lease simulator's records (orders, contracts, agreements, trades), its scenarios, and
the checks of a pre-order request."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from plugins.alipay_openapi.sandbox import (
    business_error,
)
from plugins.alipay_openapi.times import parse_alipay_time
from plugins.ant_lease.client import (
    SEAL_FILE_PARAM,
    SEAL_SIGN_PARAMS,
    AgreementState,
    TradeStatus,
)

# Contract templates the simulator knows, with the parties each needs (多方落签).
DEFAULT_TEMPLATES: Mapping[str, tuple[str, ...]] = {
    "TPL_LEASE_STD": ("lessee",),
    "TPL_LEASE_GUARANTEED": ("lessee", "guarantor"),
}
PAGE_VALIDITY = timedelta(minutes=30)  # a signing page URL older than this has expired
CONTRACT_PATH = "/_sandbox/contracts/{contract_no}/sign"
CONTRACT_FILE_PATH = "/_sandbox/contracts/{contract_no}/file"  # the signed contract document
USER_SIGN_PATH = "/_sandbox/users/sign"
USER_ID = re.compile(r"^2088[0-9]{12}$")
CERT_NUMBER = re.compile(r"^[0-9]{17}[0-9X]$")  # a resident identity card number


class Scenario:
    """Scenarios chosen by the last four digits of the lessee's Alipay user id, and by the
    cents of a deduction's amount (see README.md)."""

    PRE_ORDER_REFUSED = "0400"  # alipay.commerce.rent.order.create: BUYER_NOT_EXIST
    CONTRACT_REFUSED = "0401"  # the lessee refuses the contract on its signing page
    CONTRACT_EXPIRED = "0402"  # the contract signing link has expired when the lessee opens it
    AGREEMENT_REFUSED = "0403"  # the user refuses the withholding agreement page
    AGREEMENT_EXPIRED = "0404"  # the withholding signing page has expired

    FAIL_ONCE = "44"  # the first deduction of this amount on an agreement: balance not enough
    ALWAYS_FAIL = "45"  # every deduction of this amount: balance not enough
    SYSTEM_ERROR = "55"  # answered SYSTEM_ERROR, though the trade succeeded (a query tells)
    WAIT_THEN_PAID = "66"  # answered 10003 (processing); paid after one query
    BAD_SIGN = "77"  # paid, but the answer is signed with a key that is not Alipay's
    STUCK = "88"  # answered SYSTEM_ERROR, never paid nor closed; the first cancel asks for a retry

    @staticmethod
    def of_buyer(buyer_id: str | None) -> str:
        return (buyer_id or "")[-4:]

    @staticmethod
    def of_amount(amount: Decimal) -> str:
        return f"{amount:.2f}"[-2:]


@dataclass
class Notice:
    """A notification waiting to be delivered (Alipay retries until it reads `success`)."""

    url: str
    fields: dict[str, str]
    delivered: bool = False


@dataclass
class SimContract:
    contract_no: str
    template_id: str
    parties: tuple[str, ...]
    notify_url: str | None
    status: str = "SIGNING"  # SIGNING, SIGNED, SEALED, REFUSED, EXPIRED
    signed: dict[str, str] = field(default_factory=dict)  # party -> sign time
    sealed_at: str | None = None
    sign_flow_id: str | None = None  # seal.sign's answer

    def document(self) -> bytes:
        """The signed contract file (PDF-like bytes), the same every time it is fetched."""
        signers = ", ".join(f"{party} {at}" for party, at in self.signed.items())
        text = f"%PDF-1.4\n% sandbox lease contract {self.contract_no} ({self.template_id})\n"
        return (text + f"% signed by {signers}\n%%EOF\n").encode("utf-8")


@dataclass
class SimOrder:
    out_order_id: str
    order_id: str
    biz: dict[str, Any]
    app_id: str
    buyer_id: str
    installments: list[dict[str, Any]]
    status: str = "CREATED"  # CREATED, SIGNED (contract), RENTING (sealed), CLOSED
    contract: SimContract | None = None
    plan_status: str = "ACTIVE"
    cancel_info: dict[str, Any] | None = None
    close_info: dict[str, Any] | None = None


@dataclass
class SimAgreement:
    agreement_no: str
    external_agreement_no: str
    personal_product_code: str
    sign_scene: str
    user_id: str
    app_id: str
    notify_url: str | None
    sign_time: str
    valid_time: str
    invalid_time: str
    status: AgreementState = AgreementState.NORMAL
    unsign_time: str | None = None
    refusals: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SimTrade:
    out_trade_no: str
    trade_no: str
    biz: dict[str, Any]
    amount: Decimal
    agreement: SimAgreement
    status: TradeStatus
    answer: dict[str, Any]
    gmt_payment: str | None = None
    waits_left: int = 0  # queries before a waiting trade is paid; -1: never (it stays waiting)
    notify_url: str | None = None
    cancel_action: str | None = None  # alipay.trade.cancel's action once cancelled: close, refund
    cancel_retries: int = 0  # cancels still answered retry_flag=Y before one takes effect


def positive_amount(raw: Any) -> Decimal | None:
    if not isinstance(raw, str):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return value


def invalid_parameter(sub_msg: str) -> dict[str, Any]:
    return business_error("INVALID_PARAMETER", sub_msg)


def validate_create(biz: Mapping[str, Any]) -> dict[str, Any] | None:
    for name in ("out_order_id", "buyer_id", "title"):
        if not isinstance(biz.get(name), str) or not biz[name]:
            return invalid_parameter(f"{name}不能为空")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", biz["out_order_id"]):
        return invalid_parameter("out_order_id只支持字母、数字、下划线")
    if not USER_ID.match(biz["buyer_id"]):
        return invalid_parameter("buyer_id格式错误")
    plan = biz.get("rent_plan_info")
    installments = plan.get("installments") if isinstance(plan, dict) else None
    if not isinstance(installments, list) or not installments:
        return invalid_parameter("rent_plan_info.installments不能为空")
    total = Decimal(0)
    for expected_no, item in enumerate(installments, start=1):
        if not isinstance(item, dict) or item.get("installment_no") != expected_no:
            return invalid_parameter("installment_no须从1开始递增")
        price = positive_amount(item.get("installment_price"))
        if price is None:
            return invalid_parameter("installment_price格式错误")
        try:
            parse_alipay_time(str(item.get("plan_pay_time")))
        except ValueError:
            return invalid_parameter("plan_pay_time格式错误")
        total += price
    price_info = biz.get("price_info")
    if not isinstance(price_info, dict) or positive_amount(price_info.get("order_price")) != total:
        return invalid_parameter("price_info.order_price与租金分期合计不一致")
    items = biz.get("item_infos")
    if not isinstance(items, list) or not items or not all(_is_item(i) for i in items):
        return invalid_parameter("item_infos须含out_item_id、item_name与正整数item_cnt")
    return None


def _is_item(item: Any) -> bool:
    """One of item_infos as the SDK's RentGoodsDetailInfoDTO names it (item_cnt, not quantity)."""
    if not isinstance(item, dict) or not item.get("out_item_id") or not item.get("item_name"):
        return False
    count = item.get("item_cnt")
    return isinstance(count, int) and not isinstance(count, bool) and count > 0


def _is_area(raw: str | None) -> bool:
    """A sign area as the SDK's SignAreaRequest writes it: JSON {pos_page, pos_x, pos_y}."""
    try:
        area = json.loads(raw or "")
    except ValueError:
        return False
    if not isinstance(area, dict) or set(area) != {"pos_page", "pos_x", "pos_y"}:
        return False
    numbers = [area[k] for k in ("pos_page", "pos_x", "pos_y")]
    if not all(isinstance(n, int | float) and not isinstance(n, bool) and n >= 0 for n in numbers):
        return False
    return isinstance(area["pos_page"], int) and area["pos_page"] >= 1


def validate_seal(params: Mapping[str, str], files: Mapping[str, Any]) -> dict[str, Any] | None:
    """seal.sign takes the SDK request's top-level parameters and the file, nothing else."""
    if "biz_content" in params or "contract_no" in params:
        return invalid_parameter(
            "本接口不接受biz_content或contract_no：请以biz_no等请求参数与file_content文件调用"
        )
    unknown = sorted(set(params) - SEAL_SIGN_PARAMS)
    if unknown:
        return invalid_parameter(f"不支持的参数：{','.join(unknown)}")
    for name in ("biz_no", "biz_name", "signer_user_name", "signer_user_cert_number"):
        if not params.get(name):
            return invalid_parameter(f"{name}不能为空")
    if not CERT_NUMBER.match(params["signer_user_cert_number"]):
        return invalid_parameter("signer_user_cert_number格式错误")
    for name in ("sign_area_org", "sign_area_person"):
        if not _is_area(params.get(name)):
            return invalid_parameter(f"{name}须为含pos_page、pos_x、pos_y的JSON")
    if set(files) != {SEAL_FILE_PARAM}:
        return invalid_parameter("file_content不能为空，且只接受这一个文件")
    return None

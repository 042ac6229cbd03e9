"""Simulator of the Ant Lease APIs: the rent order component, withholding agreements and
deductions, the user's signing pages, and the asynchronous notifications (see README.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp import web

from plugins.alipay_openapi.client import encode_biz_content
from plugins.alipay_openapi.sandbox import (
    GATEWAY_PATH,
    SANDBOX_GATEWAY,
    USER_ACTION_PARAM,
    NotifyDelivery,
    NotifyingSandbox,
    PageRefused,
    SandboxHandler,
    SandboxKeys,
    SandboxPage,
    business_error,
    create_sandbox_app,
    send_notification,
    success,
    url_params,
)
from plugins.alipay_openapi.sandbox_keys import (
    load_sandbox_keys,
    serve_until_stopped,
    standalone_keys_dir,
)
from plugins.alipay_openapi.times import beijing_now, format_alipay_time, parse_alipay_time
from plugins.ant_lease.client import (
    AGREEMENT_PAGE_SIGN,
    AGREEMENT_QUERY,
    AGREEMENT_UNSIGN,
    ASYNC_UNSIGN_REFUSE,
    CONTRACT_SEAL,
    CONTRACT_SIGN_NOTIFY,
    DUT_USER_SIGN,
    DUT_USER_UNSIGN,
    ORDER_CLOSE,
    ORDER_CREATE,
    ORDER_QUERY,
    ORDER_SIGN,
    PLAN_APPEND,
    PLAN_CANCEL,
    TRADE_PAY,
    TRADE_QUERY,
    TRADE_STATUS_SYNC,
    AgreementState,
    SignatureStatus,
    TradeStatus,
)
from plugins.ant_lease.settings import SANDBOX_APP_ID, SANDBOX_PORT

# Contract templates the simulator knows, with the parties each needs (多方落签).
DEFAULT_TEMPLATES: Mapping[str, tuple[str, ...]] = {
    "TPL_LEASE_STD": ("lessee",),
    "TPL_LEASE_GUARANTEED": ("lessee", "guarantor"),
}
PAGE_VALIDITY = timedelta(minutes=30)  # a signing page URL older than this has expired
CONTRACT_PATH = "/_sandbox/contracts/{contract_no}/sign"
USER_SIGN_PATH = "/_sandbox/users/sign"
_USER_ID = re.compile(r"^2088[0-9]{12}$")


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
    waits_left: int = 0
    notify_url: str | None = None


def _amount(raw: Any) -> Decimal | None:
    if not isinstance(raw, str):
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return value


def _invalid(sub_msg: str) -> dict[str, Any]:
    return business_error("INVALID_PARAMETER", sub_msg)


def _validate_create(biz: Mapping[str, Any]) -> dict[str, Any] | None:
    for name in ("out_order_id", "buyer_id", "title"):
        if not isinstance(biz.get(name), str) or not biz[name]:
            return _invalid(f"{name}不能为空")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", biz["out_order_id"]):
        return _invalid("out_order_id只支持字母、数字、下划线")
    if not _USER_ID.match(biz["buyer_id"]):
        return _invalid("buyer_id格式错误")
    plan = biz.get("rent_plan_info")
    installments = plan.get("installments") if isinstance(plan, dict) else None
    if not isinstance(installments, list) or not installments:
        return _invalid("rent_plan_info.installments不能为空")
    total = Decimal(0)
    for expected_no, item in enumerate(installments, start=1):
        if not isinstance(item, dict) or item.get("installment_no") != expected_no:
            return _invalid("installment_no须从1开始递增")
        price = _amount(item.get("installment_price"))
        if price is None:
            return _invalid("installment_price格式错误")
        try:
            parse_alipay_time(str(item.get("plan_pay_time")))
        except ValueError:
            return _invalid("plan_pay_time格式错误")
        total += price
    price_info = biz.get("price_info")
    if not isinstance(price_info, dict) or _amount(price_info.get("total_rent_price")) != total:
        return _invalid("price_info.total_rent_price与租金分期合计不一致")
    return None


class LeaseSimulator:
    """In-memory state of the rent order component, agreements and trades; deterministic:
    no timers, every change is driven by a call, a page visit, or `deliver_notifications`."""

    def __init__(
        self,
        keys: SandboxKeys,
        *,
        base_url: str = f"http://127.0.0.1:{SANDBOX_PORT}",
        templates: Mapping[str, Sequence[str]] = DEFAULT_TEMPLATES,
        default_notify_url: str | None = None,
        clock: Callable[[], datetime] = beijing_now,
    ) -> None:
        self.keys = keys
        self.base_url = base_url
        self.templates = {k: tuple(v) for k, v in templates.items()}
        self.default_notify_url = default_notify_url
        self._clock = clock
        self._sequence = 0
        self.orders: dict[str, SimOrder] = {}
        self.agreements: dict[str, SimAgreement] = {}  # by external_agreement_no
        self.trades: dict[str, SimTrade] = {}
        self.failed_once: set[tuple[str, str]] = set()
        self.pending: list[Notice] = []
        self.on_notice: Callable[[], None] | None = None

    # -- plumbing ----------------------------------------------------------------------------
    def handlers(self) -> dict[str, SandboxHandler]:
        return {
            ORDER_CREATE: self.order_create,
            ORDER_QUERY: self.order_query,
            ORDER_SIGN: self.order_sign,
            CONTRACT_SEAL: self.contract_seal,
            PLAN_APPEND: self.plan_append,
            ORDER_CLOSE: self.order_close,
            AGREEMENT_QUERY: self.agreement_query,
            AGREEMENT_UNSIGN: self.agreement_unsign,
            TRADE_PAY: self.trade_pay,
            TRADE_QUERY: self.trade_query,
        }

    def pages(self) -> dict[str, SandboxPage]:
        return {AGREEMENT_PAGE_SIGN: self.agreement_page}

    def _next(self, kind: str) -> str:
        self._sequence += 1
        return f"{self._clock():%Y%m%d}{kind}{self._sequence:012d}"

    def _now(self) -> str:
        return format_alipay_time(self._clock())

    def _notify(self, url: str | None, fields: dict[str, str]) -> None:
        target = url or self.default_notify_url
        if not target:
            return  # nowhere to send it, as with an app that configured no gateway
        self.pending.append(Notice(target, fields))
        if self.on_notice is not None:
            self.on_notice()

    def _base_fields(self, app_id: str) -> dict[str, str]:
        self._sequence += 1
        return {
            "app_id": app_id,
            "charset": "utf-8",
            "notify_id": f"sandbox{self._sequence:016d}",
            "notify_time": self._now(),
        }

    async def deliver_notifications(
        self, session: aiohttp.ClientSession, *, timeout_seconds: float = 10.0
    ) -> list[NotifyDelivery]:
        """Send every pending notification; those not acknowledged with `success` stay
        pending (Alipay retries them)."""
        pending, self.pending = self.pending, []
        deliveries = []
        for notice in pending:
            delivery = await send_notification(
                session,
                notice.url,
                notice.fields,
                self.keys.alipay_private_key,
                timeout_seconds=timeout_seconds,
            )
            deliveries.append(delivery)
            if delivery.acknowledged:
                notice.delivered = True
            else:
                self.pending.append(notice)
        return deliveries

    def find_order(self, biz: Mapping[str, Any]) -> SimOrder | None:
        if biz.get("order_id"):
            return next((o for o in self.orders.values() if o.order_id == biz["order_id"]), None)
        return self.orders.get(str(biz.get("out_order_id")))

    # -- the rent order component ------------------------------------------------------------
    async def order_create(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        invalid = _validate_create(biz)
        if invalid is not None:
            return invalid
        existing = self.orders.get(biz["out_order_id"])
        if existing is not None:
            if existing.biz != biz:
                return business_error("ORDER_INFO_INCONSISTENT", "同一商户订单号的订单信息不一致")
            return success(order_id=existing.order_id, out_order_id=existing.out_order_id)
        if Scenario.of_buyer(biz["buyer_id"]) == Scenario.PRE_ORDER_REFUSED:
            return business_error("BUYER_NOT_EXIST", "买家不存在")
        installments = [
            {
                "installment_no": item["installment_no"],
                "installment_price": item["installment_price"],
                "plan_pay_time": item["plan_pay_time"],
                "status": "UNPAID",
            }
            for item in biz["rent_plan_info"]["installments"]
        ]
        order = SimOrder(
            biz["out_order_id"],
            self._next("2200"),
            dict(biz),
            common.get("app_id", ""),
            biz["buyer_id"],
            installments,
        )
        self.orders[order.out_order_id] = order
        return success(order_id=order.order_id, out_order_id=order.out_order_id)

    def _order_view(self, order: SimOrder) -> dict[str, Any]:
        view: dict[str, Any] = {
            "order_id": order.order_id,
            "out_order_id": order.out_order_id,
            "status": order.status,
            "buyer_id": order.buyer_id,
            "title": order.biz["title"],
            "price_info": order.biz["price_info"],
            "rent_plan_info": {
                "rent_start_time": order.biz["rent_plan_info"]["rent_start_time"],
                "rent_end_time": order.biz["rent_plan_info"]["rent_end_time"],
                "installments": [dict(i) for i in order.installments],
            },
            "rent_pay_infos": [
                {
                    "installment_no": i["installment_no"],
                    "trade_no": i["trade_no"],
                    "pay_amount": i["installment_price"],
                    "pay_time": i["pay_time"],
                }
                for i in order.installments
                if i["status"] == "PAID"
            ],
            "plan_info": {"status": order.plan_status, **(order.cancel_info or {})},
        }
        if order.contract is not None:
            c = order.contract
            view["contract_info"] = {
                "contract_no": c.contract_no,
                "template_id": c.template_id,
                "status": c.status,
                "signers": [
                    {
                        "party": p,
                        "status": "SIGNED" if p in c.signed else "UNSIGNED",
                        "sign_time": c.signed.get(p),
                    }
                    for p in c.parties
                ],
                "seal_time": c.sealed_at,
            }
        if order.close_info is not None:
            view["close_info"] = order.close_info
        return view

    async def order_query(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        if not biz.get("order_id") and not biz.get("out_order_id"):
            return _invalid("order_id与out_order_id不能同时为空")
        order = self.find_order(biz)
        if order is None:
            return business_error("ORDER_NOT_EXIST", "订单不存在")
        return success(query_options=biz.get("query_options") or [], **self._order_view(order))

    def _contract_answer(self, contract: SimContract) -> dict[str, Any]:
        signers = [
            {"party": p, "sign_url": self.contract_url(contract.contract_no, p)} for p in contract.parties
        ]
        lessee_url = signers[0]["sign_url"]
        return success(
            contract_no=contract.contract_no,
            sign_launch_method="URL",
            sign_str=lessee_url,
            sign_url=lessee_url,
            signers=signers,
        )

    def contract_url(self, contract_no: str, party: str) -> str:
        path = CONTRACT_PATH.format(contract_no=contract_no)
        return f"{self.base_url}{path}?{urlencode({'party': party})}"

    async def order_sign(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        order = self.find_order(biz)
        if order is None:
            return business_error("ORDER_NOT_EXIST", "订单不存在")
        if order.status == "CLOSED":
            return business_error("ORDER_STATUS_NOT_SUPPORT", "订单已关闭")
        sign_info = biz.get("rent_sign_info")
        template_id = sign_info.get("contract_template_id") if isinstance(sign_info, dict) else None
        if not isinstance(template_id, str) or not template_id:
            return _invalid("rent_sign_info.contract_template_id不能为空")
        parties = self.templates.get(template_id)
        if parties is None:
            return business_error("CONTRACT_TEMPLATE_NOT_EXIST", "合同模板不存在")
        current = order.contract
        if current is not None and current.status in ("SIGNED", "SEALED"):
            return business_error("CONTRACT_ALREADY_SIGNED", "合同已签署")
        if current is not None and current.status == "SIGNING" and current.template_id == template_id:
            return self._contract_answer(current)
        contract = SimContract(self._next("3300"), template_id, parties, common.get("notify_url"))
        order.contract = contract
        return self._contract_answer(contract)

    def _contract_of(self, contract_no: str) -> tuple[SimOrder, SimContract] | None:
        for order in self.orders.values():
            if order.contract is not None and order.contract.contract_no == contract_no:
                return order, order.contract
        return None

    def _contract_notice(
        self, order: SimOrder, contract: SimContract, party: str, status: SignatureStatus
    ) -> None:
        biz = {
            "order_id": order.order_id,
            "out_order_id": order.out_order_id,
            "contract_no": contract.contract_no,
            "party": party,
            "sign_status": status.value,
            "sign_time": self._now(),
        }
        fields = {
            **self._base_fields(order.app_id),
            "msg_method": CONTRACT_SIGN_NOTIFY,
            "utc_timestamp": str(int(self._clock().timestamp() * 1000)),
            "version": "1.1",
            "biz_content": encode_biz_content(biz),
        }
        fields.pop("notify_time")
        self._notify(contract.notify_url, fields)

    def contract_page(self, contract_no: str, party: str, action: str | None) -> dict[str, Any]:
        """The contract's signing page for `party`; `action` is the user's click."""
        found = self._contract_of(contract_no)
        if found is None:
            return {"error": "CONTRACT_NOT_EXIST"}
        order, contract = found
        if party not in contract.parties:
            return {"error": "PARTY_NOT_IN_CONTRACT"}
        page: dict[str, Any] = {
            "page": "contract_sign",
            "contract_no": contract_no,
            "template_id": contract.template_id,
            "party": party,
            "status": contract.status,
        }
        if contract.status != "SIGNING" or action is None or party in contract.signed:
            return {**page, "result": "signed" if party in contract.signed else contract.status.lower()}
        scenario = Scenario.of_buyer(order.buyer_id) if party == "lessee" else ""
        if scenario == Scenario.CONTRACT_EXPIRED:
            contract.status = "EXPIRED"
            self._contract_notice(order, contract, party, SignatureStatus.EXPIRED)
            return {**page, "status": contract.status, "result": "expired"}
        if action == "refuse" or scenario == Scenario.CONTRACT_REFUSED:
            contract.status = "REFUSED"
            self._contract_notice(order, contract, party, SignatureStatus.REFUSED)
            return {**page, "status": contract.status, "result": "refused"}
        if action != "confirm":
            return {**page, "error": f"unknown action {action!r}"}
        contract.signed[party] = self._now()
        if set(contract.parties) <= set(contract.signed):
            contract.status = "SIGNED"
            order.status = "SIGNED"
        self._contract_notice(order, contract, party, SignatureStatus.SIGNED)
        return {**page, "status": contract.status, "result": "signed"}

    async def contract_seal(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        order = self.find_order(biz)
        if order is None or order.contract is None or order.contract.contract_no != biz.get("contract_no"):
            return business_error("CONTRACT_NOT_EXIST", "合同不存在")
        contract = order.contract
        if contract.status == "SIGNED":
            contract.status, contract.sealed_at = "SEALED", self._now()
            order.status = "RENTING"
        elif contract.status != "SEALED":
            return business_error("CONTRACT_NOT_SIGNED", "合同尚未签署完成")
        return success(contract_no=contract.contract_no, seal_time=contract.sealed_at)

    async def plan_append(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        if biz.get("type") != PLAN_CANCEL:
            return _invalid("type不支持")
        order = self.find_order(biz)
        if order is None:
            return business_error("ORDER_NOT_EXIST", "订单不存在")
        cancel = biz.get("cancel_info")
        if not isinstance(cancel, dict) or not cancel.get("cancel_reason"):
            return _invalid("cancel_info.cancel_reason不能为空")
        if order.plan_status == "ACTIVE":
            order.plan_status = "CANCELLED"
            order.cancel_info = {
                "cancel_reason": cancel["cancel_reason"],
                "cancel_desc": cancel.get("cancel_desc"),
            }
            for item in order.installments:
                if item["status"] == "UNPAID":
                    item["status"] = "CANCELLED"
        return success(order_id=order.order_id, out_order_id=order.out_order_id)

    async def order_close(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        order = self.find_order(biz)
        if order is None:
            return business_error("ORDER_NOT_EXIST", "订单不存在")
        if order.status != "CLOSED":
            order.status = "CLOSED"
            order.close_info = {
                "reason_code": biz.get("reason_code"),
                "reason_desc": biz.get("reason_desc"),
                "close_time": self._now(),
            }
        return success(order_id=order.order_id, out_order_id=order.out_order_id)

    # -- withholding agreements --------------------------------------------------------------
    async def agreement_page(
        self, biz: dict[str, Any], common: Mapping[str, str], action: str | None
    ) -> Mapping[str, Any]:
        """alipay.user.agreement.page.sign as the user sees it; `confirm` signs, `refuse` not."""
        external = biz.get("external_agreement_no")
        for name in ("personal_product_code", "sign_scene", "external_agreement_no"):
            if not isinstance(biz.get(name), str) or not biz[name]:
                return {"error": "INVALID_PARAMETER", "message": f"{name}不能为空"}
        if biz["sign_scene"] == "DEFAULT|DEFAULT":
            return {
                "error": "INVALID_PARAMETER",
                "message": "传入external_agreement_no时sign_scene不能为默认值",
            }
        page: dict[str, Any] = {
            "page": "agreement_sign",
            "external_agreement_no": external,
            "personal_product_code": biz["personal_product_code"],
            "sign_scene": biz["sign_scene"],
        }
        existing = self.agreements.get(str(external))
        if existing is not None:
            return {**page, "result": "signed", "agreement_no": existing.agreement_no}
        if action is None:
            return {**page, "actions": ["confirm", "refuse"]}
        user_id = str(biz.get("external_logon_id") or "")
        scenario = Scenario.of_buyer(user_id)
        issued = parse_alipay_time(common["timestamp"])
        if scenario == Scenario.AGREEMENT_EXPIRED or self._clock() - issued > PAGE_VALIDITY:
            return {**page, "result": "expired"}
        if action == "refuse" or scenario == Scenario.AGREEMENT_REFUSED:
            return {**page, "result": "refused"}
        if action != "confirm":
            return {**page, "error": f"unknown action {action!r}"}
        now = self._clock()
        agreement = SimAgreement(
            agreement_no=self._next("5400"),
            external_agreement_no=str(external),
            personal_product_code=biz["personal_product_code"],
            sign_scene=biz["sign_scene"],
            user_id=user_id if _USER_ID.match(user_id) else "2088000000000000",
            app_id=common.get("app_id", ""),
            notify_url=common.get("notify_url"),
            sign_time=format_alipay_time(now),
            valid_time=format_alipay_time(now),
            invalid_time="2115-02-01 00:00:00",
        )
        self.agreements[agreement.external_agreement_no] = agreement
        self._agreement_notice(agreement, DUT_USER_SIGN)
        return {**page, "result": "signed", "agreement_no": agreement.agreement_no}

    def _agreement_fields(self, a: SimAgreement) -> dict[str, str]:
        fields = {
            "agreement_no": a.agreement_no,
            "external_agreement_no": a.external_agreement_no,
            "personal_product_code": a.personal_product_code,
            "sign_scene": a.sign_scene,
            "status": a.status.value,
            "sign_time": a.sign_time,
            "valid_time": a.valid_time,
            "invalid_time": a.invalid_time,
        }
        if a.unsign_time:
            fields["unsign_time"] = a.unsign_time
        return fields

    def _agreement_notice(self, a: SimAgreement, notify_type: str) -> None:
        fields = {
            **self._base_fields(a.app_id),
            "notify_type": notify_type,
            "alipay_user_id": a.user_id,
            **self._agreement_fields(a),
        }
        self._notify(a.notify_url, fields)

    def find_agreement(self, biz: Mapping[str, Any]) -> SimAgreement | None:
        if biz.get("agreement_no"):
            return next((a for a in self.agreements.values() if a.agreement_no == biz["agreement_no"]), None)
        agreement = self.agreements.get(str(biz.get("external_agreement_no")))
        if agreement is None:
            return None
        same = (agreement.personal_product_code, agreement.sign_scene) == (
            biz.get("personal_product_code"),
            biz.get("sign_scene"),
        )
        return agreement if same else None

    async def agreement_query(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        if not biz.get("agreement_no") and not biz.get("external_agreement_no"):
            return _invalid("agreement_no与external_agreement_no不能同时为空")
        agreement = self.find_agreement(biz)
        if agreement is None:
            return business_error("USER_AGREEMENT_NOT_EXIST", "用户协议不存在")
        return success(principal_id=agreement.user_id, **self._agreement_fields(agreement))

    async def agreement_unsign(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        agreement = self.find_agreement(biz)
        if agreement is None:
            return business_error("USER_AGREEMENT_NOT_EXIST", "用户协议不存在")
        operation = biz.get("operate_type")
        if operation is not None:
            if operation != ASYNC_UNSIGN_REFUSE:
                return _invalid("operate_type不支持")
            if agreement.status is not AgreementState.NORMAL:
                return business_error("AGREEMENT_STATUS_NOT_NORMAL", "协议状态非正常")
            try:
                extend = json.loads(str(biz.get("extend_params") or "{}"))
            except ValueError:
                return _invalid("extend_params不是合法的JSON")
            agreement.refusals.append({"operation": operation, **extend, "at": self._now()})
            return success()
        if agreement.status is AgreementState.NORMAL:
            agreement.status, agreement.unsign_time = AgreementState.UNSIGN, self._now()
            self._agreement_notice(agreement, DUT_USER_UNSIGN)
        return success()

    # -- deductions --------------------------------------------------------------------------
    async def trade_pay(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        for name in ("out_trade_no", "total_amount", "subject", "product_code"):
            if not isinstance(biz.get(name), str) or not biz[name]:
                return business_error("ACQ.INVALID_PARAMETER", f"{name}不能为空")
        amount = _amount(biz["total_amount"])
        if amount is None:
            return business_error("ACQ.INVALID_PARAMETER", "total_amount格式错误")
        params = biz.get("agreement_params")
        agreement_no = params.get("agreement_no") if isinstance(params, dict) else None
        if biz["product_code"] != "GENERAL_WITHHOLDING" or not agreement_no:
            return business_error("ACQ.INVALID_PARAMETER", "代扣须传GENERAL_WITHHOLDING与agreement_no")
        existing = self.trades.get(biz["out_trade_no"])
        if existing is not None:
            if existing.biz != biz:
                return business_error("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            return existing.answer
        agreement = self.find_agreement({"agreement_no": agreement_no})
        if agreement is None:
            return business_error("ACQ.AGREEMENT_NOT_EXIST", "用户协议不存在")
        if agreement.status is not AgreementState.NORMAL:
            return business_error("ACQ.AGREEMENT_STATUS_NOT_NORMAL", "用户协议状态非正常")
        scenario = Scenario.of_amount(amount)
        trade = SimTrade(
            biz["out_trade_no"],
            self._next("2288"),
            dict(biz),
            amount,
            agreement,
            TradeStatus.TRADE_SUCCESS,
            {},
            notify_url=common.get("notify_url"),
        )
        key = (agreement.agreement_no, biz["total_amount"])
        refused = scenario == Scenario.ALWAYS_FAIL or (
            scenario == Scenario.FAIL_ONCE and key not in self.failed_once
        )
        if refused:
            self.failed_once.add(key)
            trade.status = TradeStatus.TRADE_CLOSED
            trade.answer = business_error("ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足")
        elif scenario == Scenario.WAIT_THEN_PAID:
            trade.status, trade.waits_left = TradeStatus.WAIT_BUYER_PAY, 1
            trade.answer = {
                "code": "10003",
                "msg": "order success pay inprocess",
                **self._trade_fields(trade),
            }
        else:
            self._paid(trade)
            trade.answer = success(**self._trade_fields(trade))
            if scenario == Scenario.SYSTEM_ERROR:
                trade.answer = business_error("ACQ.SYSTEM_ERROR", "系统异常")
        self.trades[trade.out_trade_no] = trade
        return trade.answer

    def _trade_fields(self, trade: SimTrade) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_user_id": trade.agreement.user_id,
            "total_amount": f"{trade.amount:.2f}",
        }
        if trade.gmt_payment:
            fields.update(receipt_amount=f"{trade.amount:.2f}", gmt_payment=trade.gmt_payment)
        return fields

    def _paid(self, trade: SimTrade) -> None:
        trade.status, trade.gmt_payment = TradeStatus.TRADE_SUCCESS, self._now()
        try:
            business = json.loads(str(trade.biz.get("business_params") or "{}"))
        except ValueError:
            business = {}
        order = self.find_order({"order_id": business.get("rent_order_id")}) if business else None
        if order is not None:
            for item in order.installments:
                if str(item["installment_no"]) == str(business.get("installment_no")):
                    item.update(status="PAID", trade_no=trade.trade_no, pay_time=trade.gmt_payment)
        fields = {
            **self._base_fields(trade.agreement.app_id),
            "notify_type": TRADE_STATUS_SYNC,
            "version": "1.0",
            "buyer_id": trade.agreement.user_id,
            "trade_status": trade.status.value,
            "subject": str(trade.biz["subject"]),
            "gmt_create": trade.gmt_payment,
            **{k: str(v) for k, v in self._trade_fields(trade).items() if k != "buyer_user_id"},
        }
        self._notify(trade.notify_url, fields)

    async def trade_query(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        trade = self.trades.get(str(biz.get("out_trade_no")))
        if trade is None and biz.get("trade_no"):
            trade = next((t for t in self.trades.values() if t.trade_no == biz["trade_no"]), None)
        if trade is None:
            return business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade.status is TradeStatus.WAIT_BUYER_PAY:
            if trade.waits_left > 0:
                trade.waits_left -= 1
            else:
                self._paid(trade)
        fields = self._trade_fields(trade)
        if trade.gmt_payment:
            fields["send_pay_date"] = trade.gmt_payment
        return success(trade_status=trade.status.value, **fields)


SIMULATOR = web.AppKey("ant_lease_simulator", LeaseSimulator)


async def _contract_page(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR]
    page = simulator.contract_page(
        request.match_info["contract_no"],
        request.query.get("party", "lessee"),
        request.query.get(USER_ACTION_PARAM),
    )
    return web.json_response(page, status=400 if "error" in page else 200)


async def open_signing_url(app: web.Application, url: str, decision: str | None) -> dict[str, Any]:
    """The user opens `url` (a contract or withholding signing URL of this sandbox) and clicks
    `decision` (confirm, refuse; None: only looks). What the page then shows; an `error` key
    when the sandbox would not show it."""
    path = urlsplit(url).path
    match = re.fullmatch(CONTRACT_PATH.format(contract_no="([^/]+)"), path)
    if match is not None:
        party = url_params(url).get("party", "lessee")
        return app[SIMULATOR].contract_page(match.group(1), party, decision)
    if path.endswith(GATEWAY_PATH):
        params = url_params(url)
        if decision is not None:
            params[USER_ACTION_PARAM] = decision
        try:
            return dict(await app[SANDBOX_GATEWAY].open_page(params))
        except PageRefused as refused:
            return {"error": refused.payload}
    return {"error": "not a signing URL of this sandbox"}


async def _user_signs(request: web.Request) -> web.Response:
    """Plays the user: opens `url` and clicks `decision` (confirm, the default, or refuse)."""
    shown = await open_signing_url(
        request.app, request.query.get("url", ""), request.query.get("decision", "confirm")
    )
    return web.json_response(shown, status=400 if "error" in shown else 200)


def create_lease_sandbox_app(simulator: LeaseSimulator) -> web.Application:
    """The OpenAPI sandbox gateway serving the lease methods, the signing pages, and the
    user simulation (`POST /_sandbox/users/sign?url=...&decision=confirm|refuse`)."""
    app = create_sandbox_app(simulator.keys, simulator.handlers(), pages=simulator.pages())
    app[SIMULATOR] = simulator
    app.router.add_get(CONTRACT_PATH.format(contract_no="{contract_no}"), _contract_page)
    app.router.add_post(USER_SIGN_PATH, _user_signs)
    return app


class LeaseSandbox(NotifyingSandbox):
    """A running lease simulator (`await start()` / `await stop()`) that delivers its
    notifications in the background as they arise."""

    name = "lease sandbox"

    def __init__(
        self,
        keys: SandboxKeys,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        default_notify_url: str | None = None,
    ) -> None:
        self.simulator = LeaseSimulator(keys, default_notify_url=default_notify_url)
        super().__init__(
            create_lease_sandbox_app(self.simulator),
            self.simulator.deliver_notifications,
            host=host,
            port=port,
        )

    async def start(self) -> str:
        self.simulator.on_notice = self.schedule_delivery
        url = await super().start()
        self.simulator.base_url = url
        return url

    async def stop(self) -> None:
        self.simulator.on_notice = None
        await super().stop()


async def _serve(args: argparse.Namespace) -> None:
    keys_dir = standalone_keys_dir(args.keys_dir, "ant-lease-sandbox-keys-")
    sandbox = LeaseSandbox(
        load_sandbox_keys(keys_dir, args.app_id),
        host=args.host,
        port=args.port,
        default_notify_url=args.notify_url,
    )
    await serve_until_stopped(sandbox, "Ant Lease", args.app_id, keys_dir)


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m plugins.ant_lease.sandbox --port N`: run the simulator standalone."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=SANDBOX_PORT)
    parser.add_argument("--app-id", default=SANDBOX_APP_ID)
    parser.add_argument("--keys-dir", type=Path, default=None, help="sandbox-only key files (default: fresh)")
    parser.add_argument("--notify-url", default=None, help="where notifications go when a request names none")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()

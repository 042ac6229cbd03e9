"""Wire functions of the Ant Lease channel: method names, the requests of the rent order
component, withholding agreements and deductions, and the notifications' names and status
values (parsed in notices.py; see README.md for the mapping)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from plugins.alipay_openapi.client import encode_biz_content
from plugins.alipay_openapi.times import BEIJING, format_alipay_time

# The rent order component (租赁交易组件).
ORDER_CREATE = "alipay.commerce.rent.order.create"  # 同步前置订单
ORDER_QUERY = "alipay.commerce.rent.order.query"  # 查询订单信息
ORDER_CLOSE = "alipay.commerce.rent.order.close"  # 关闭订单
ECSIGN_APPLY = "alipay.commerce.rent.order.ecsign.apply"  # 前置合同签署: templates + signers
CONTRACT_SEAL = "alipay.commerce.rent.enterprise.seal.sign"  # 落签: top-level params + the file
PLAN_APPEND = "alipay.commerce.rent.order.rentplaninfo.append"  # 取消代扣计划 with type CANCEL
# Withholding agreements (代扣协议) and deductions.
AGREEMENT_PAGE_SIGN = "alipay.user.agreement.page.sign"  # a page API: a signed URL, never sent
AGREEMENT_QUERY = "alipay.user.agreement.query"
AGREEMENT_UNSIGN = "alipay.user.agreement.unsign"  # also 异步解约确认 with operate_type
TRADE_PAY = "alipay.trade.pay"  # a deduction: product_code GENERAL_WITHHOLDING
TRADE_QUERY = "alipay.trade.query"
TRADE_CANCEL = "alipay.trade.cancel"  # 撤销: closes an unpaid trade, refunds a paid one
# Notifications.
TRADE_STATUS_SYNC = "trade_status_sync"
DUT_USER_SIGN = "dut_user_sign"
DUT_USER_UNSIGN = "dut_user_unsign"
CONTRACT_SIGN_NOTIFY = "alipay.commerce.rent.contract.sign.notify"  # assumed msg_method

ORDER_FULL_INFO = "orderFullInfo"
PLAN_CANCEL = "CANCEL"
ASYNC_UNSIGN_REFUSE = "REFUSE"


class AgreementState(enum.StrEnum):
    """`status` of alipay.user.agreement.query and of dut_user_* notifications."""

    TEMP = "TEMP"  # stored, never in force
    NORMAL = "NORMAL"  # in force
    STOP = "STOP"  # suspended
    UNSIGN = "UNSIGN"  # ended (the notify's value; assumed for the query too)

    @classmethod
    def parse(cls, raw: str | None) -> AgreementState | None:
        try:
            return cls(raw) if raw else None
        except ValueError:
            return None


class TradeStatus(enum.StrEnum):
    WAIT_BUYER_PAY = "WAIT_BUYER_PAY"
    TRADE_SUCCESS = "TRADE_SUCCESS"
    TRADE_FINISHED = "TRADE_FINISHED"
    TRADE_CLOSED = "TRADE_CLOSED"

    @classmethod
    def parse(cls, raw: str | None) -> TradeStatus | None:
        try:
            return cls(raw) if raw else None
        except ValueError:
            return None


class SignatureStatus(enum.StrEnum):
    """`sign_status` of a contract-signing notification (assumed values)."""

    SIGNED = "SIGNED"
    REFUSED = "REFUSED"
    EXPIRED = "EXPIRED"


def yuan(amount: Decimal) -> str:
    """Yuan with exactly two decimals, as Alipay writes money."""
    if (
        not isinstance(amount, Decimal)
        or not amount.is_finite()
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise ValueError(f"{amount!r} is not an amount in cents")
    return f"{amount:.2f}"


def day_start(day: date) -> str:
    """A Beijing calendar day's start as Alipay writes times."""
    return format_alipay_time(datetime.combine(day, time(0, 0), tzinfo=BEIJING))


def day_end(day: date) -> str:
    return format_alipay_time(datetime.combine(day, time(23, 59, 59), tzinfo=BEIJING))


@dataclass(frozen=True, slots=True)
class Installment:
    """One period of the rent plan as the component takes it."""

    no: int
    due_date: date
    amount: Decimal


def create_order_biz(
    out_order_id: str,
    buyer_id: str,
    title: str,
    out_item_id: str,
    total: Decimal,
    installments: Sequence[Installment],
) -> dict[str, Any]:
    """alipay.commerce.rent.order.create: the pre-order. `out_order_id` is the platform's
    order id (its contract id); the caller's own order number travels as the item's id."""
    return {
        "out_order_id": out_order_id,
        "buyer_id": buyer_id,
        "title": title,
        "order_type": "RENT",
        "item_infos": [{"out_item_id": out_item_id, "item_name": title, "item_cnt": 1}],
        # the SDK's RentOrderPriceInfoDTO: order_price (the whole rent), deposit, buyout, …
        "price_info": {"order_price": yuan(total)},
        "rent_plan_info": {
            "rent_start_time": day_start(installments[0].due_date),
            "rent_end_time": day_end(installments[-1].due_date),
            "installments": [
                {
                    "installment_no": i.no,
                    "installment_price": yuan(i.amount),
                    "plan_pay_time": day_start(i.due_date),
                }
                for i in installments
            ],
        },
    }


def order_ref_biz(out_order_id: str, order_id: str | None) -> dict[str, Any]:
    """How the component looks an order up: its order_id when known, and ours always."""
    biz: dict[str, Any] = {"out_order_id": out_order_id}
    if order_id:
        biz["order_id"] = order_id
    return biz


def query_order_biz(out_order_id: str, order_id: str | None, query_type: str) -> dict[str, Any]:
    """alipay.commerce.rent.order.query; the seed's query type goes in `query_options`."""
    return {**order_ref_biz(out_order_id, order_id), "query_options": [query_type]}


def contract_biz_no(out_order_id: str, template_code: str, applied: Sequence[Mapping[str, Any]]) -> str:
    """Our number for a contract signing of the order with `template_code`, given the signings
    Alipay already has (order.query's ec_sign_apply_infos): the one still signing is reused,
    so a repeated request is the same signing; otherwise the next number, so a contract
    signed again after a refusal is a new one."""
    prefix = f"{out_order_id}_{template_code}_"
    mine = [str(i.get("biz_no")) for i in applied if str(i.get("biz_no") or "").startswith(prefix)]
    signing = [i for i in applied if i.get("biz_no") in mine and i.get("status") == "SIGNING"]
    if signing:
        return str(signing[-1]["biz_no"])
    numbers = [int(n[len(prefix) :]) for n in mine if n[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def ecsign_apply_biz(
    order_id: str, biz_no: str, template_code: str, parties: Sequence[str], notify_url: str | None
) -> dict[str, Any]:
    """alipay.commerce.rent.order.ecsign.apply (the SDK's AlipayCommerceRentOrderEcsignApplyModel):
    the rent order, our number for the signing, the contract templates and the signers (the
    SDK's RentEcSignerDTO: type, name, cert_no; each party is sent as its `type`, see README),
    and where Alipay notifies the signing."""
    biz: dict[str, Any] = {
        "order_id": order_id,
        "biz_no": biz_no,
        "ec_template_codes": [template_code],
        "signers": [{"type": party.upper()} for party in parties],
    }
    if notify_url:
        biz["ecsign_notify_url"] = notify_url
    return biz


# alipay.commerce.rent.enterprise.seal.sign has no biz model in the SDK: its request class
# (AlipayCommerceRentEnterpriseSealSignRequest) takes these as top-level parameters, and the
# contract file as the multipart part `file_content`; it answers biz_no and sign_flow_id.
SEAL_SIGN_PARAMS = frozenset(
    {
        "biz_no",
        "biz_name",
        "biz_desc",
        "pre_auth_no",
        "sign_area_org",
        "sign_area_person",
        "signer_user_name",
        "signer_user_cert_number",
    }
)
SEAL_FILE_PARAM = "file_content"


@dataclass(frozen=True, slots=True)
class SignArea:
    """Where a seal or a signature goes on the contract (the SDK's SignAreaRequest)."""

    pos_page: int
    pos_x: int
    pos_y: int

    def to_param(self) -> dict[str, int]:
        return {"pos_page": self.pos_page, "pos_x": self.pos_x, "pos_y": self.pos_y}


@dataclass(frozen=True, slots=True)
class SealSigner:
    """The lessor's side of 落签: where its company seal goes, and the person who signs for it
    (name, identity number, and where that signature goes)."""

    org_area: SignArea
    person_area: SignArea
    signer_name: str
    signer_cert_number: str = field(repr=False)


def seal_sign_params(biz_no: str, biz_name: str, signer: SealSigner) -> dict[str, str | dict[str, int]]:
    """The top-level parameters of alipay.commerce.rent.enterprise.seal.sign for the contract
    signing `biz_no` (ours, from ecsign.apply): its name, the seal's and the signature's areas,
    and the signer. `pre_auth_no` and `biz_desc` are not sent (see README)."""
    return {
        "biz_no": biz_no,
        "biz_name": biz_name[:64],
        "sign_area_org": signer.org_area.to_param(),
        "sign_area_person": signer.person_area.to_param(),
        "signer_user_name": signer.signer_name,
        "signer_user_cert_number": signer.signer_cert_number,
    }


def contract_file_url(applied: Sequence[Mapping[str, Any]], biz_no: str) -> str | None:
    """The signed contract document of the signing `biz_no`, from order.query's
    ec_sign_apply_infos [{biz_no, contracts: [{file_url}]}] (the SDK's RentEcSignContractVO)."""
    for info in applied:
        if info.get("biz_no") != biz_no:
            continue
        for contract in info.get("contracts") or ():
            url = contract.get("file_url") if isinstance(contract, Mapping) else None
            if isinstance(url, str) and url:
                return url
    return None


def cancel_plan_biz(
    out_order_id: str, order_id: str | None, reason: str, note: str, first_installment_no: int | None
) -> dict[str, Any]:
    """alipay.commerce.rent.order.rentplaninfo.append with type CANCEL: the SDK's
    RentPlanCancelInfo names the reason (reason_code, reason_desc) and the first period that
    is no longer withheld (cancel_start_installment_no)."""
    cancel_info: dict[str, Any] = {"reason_code": reason, "reason_desc": note}
    if first_installment_no is not None:
        cancel_info["cancel_start_installment_no"] = first_installment_no
    return {**order_ref_biz(out_order_id, order_id), "type": PLAN_CANCEL, "cancel_info": cancel_info}


def close_biz(out_order_id: str, order_id: str | None, reason_code: str, reason: str) -> dict[str, Any]:
    return {**order_ref_biz(out_order_id, order_id), "reason_code": reason_code, "reason_desc": reason}


@dataclass(frozen=True, slots=True)
class WithholdingProduct:
    """Which withholding product and scene the merchant signed with Alipay."""

    product_code: str = "GENERAL_WITHHOLDING"
    personal_product_code: str = "GENERAL_WITHHOLDING_P"
    sign_scene: str = "INDUSTRY|CARRENTAL"
    access_channel: str = "ALIPAYAPP"

    def page_sign_biz(self, external_agreement_no: str, buyer_id: str) -> dict[str, Any]:
        """alipay.user.agreement.page.sign: what the user is asked to agree to."""
        return {
            "product_code": self.product_code,
            "personal_product_code": self.personal_product_code,
            "sign_scene": self.sign_scene,
            "external_agreement_no": external_agreement_no,
            "external_logon_id": buyer_id,
            "access_params": {"channel": self.access_channel},
        }

    def query_biz(self, external_agreement_no: str, agreement_no: str | None) -> dict[str, Any]:
        biz: dict[str, Any] = {
            "personal_product_code": self.personal_product_code,
            "sign_scene": self.sign_scene,
            "external_agreement_no": external_agreement_no,
        }
        if agreement_no:
            biz["agreement_no"] = agreement_no
        return biz

    def unsign_biz(self, agreement_no: str, external_agreement_no: str | None) -> dict[str, Any]:
        biz: dict[str, Any] = {
            "agreement_no": agreement_no,
            "personal_product_code": self.personal_product_code,
            "sign_scene": self.sign_scene,
        }
        if external_agreement_no:
            biz["external_agreement_no"] = external_agreement_no
        return biz

    def async_unsign_biz(
        self, agreement_no: str, operation: str, service_user: str, user_debt: Decimal, reason: str
    ) -> dict[str, Any]:
        """异步解约确认 as alipay.user.agreement.unsign with operate_type (async unsign only)
        and the seed's fields in extend_params (a JSON string)."""
        return {
            "agreement_no": agreement_no,
            "personal_product_code": self.personal_product_code,
            "sign_scene": self.sign_scene,
            "operate_type": operation,
            "extend_params": encode_biz_content(
                {"service_user": service_user, "user_debt": yuan(user_debt), "unsign_reason": reason}
            ),
        }

    def deduction_biz(
        self,
        out_trade_no: str,
        amount: Decimal,
        subject: str,
        agreement_no: str,
        rent_order_id: str | None,
        installment_no: int | None,
    ) -> dict[str, Any]:
        """alipay.trade.pay withholding one period under the agreement."""
        biz: dict[str, Any] = {
            "out_trade_no": out_trade_no,
            "total_amount": yuan(amount),
            "subject": subject[:256],
            "product_code": self.product_code,
            "agreement_params": {"agreement_no": agreement_no},
        }
        if rent_order_id and installment_no is not None:
            # the SDK's ExtendParams links a trade to a trade-component (rent) order; which
            # value tc_installment_order_id wants is assumed: the period's number (README)
            biz["extend_params"] = {
                "trade_component_order_id": rent_order_id,
                "tc_installment_order_id": str(installment_no),
            }
        return biz

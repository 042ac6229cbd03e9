"""The simulated rent order component: create, query, cancel the plan, close."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from plugins.alipay_openapi.sandbox import (
    business_error,
    success,
)
from plugins.ant_lease.client import (
    PLAN_CANCEL,
)
from plugins.ant_lease.simulator.base import SimulatorBase
from plugins.ant_lease.simulator.records import (
    CONTRACT_FILE_PATH,
    Scenario,
    SimContract,
    SimOrder,
    invalid_parameter,
    validate_create,
)


class OrderComponent(SimulatorBase):
    """alipay.commerce.rent.order.create / .query / .rentplaninfo.append / .close."""

    async def order_create(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        invalid = validate_create(biz)
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
            # the SDK's RentEcSignApplyInfoVO: biz_no, status, contracts (RentEcSignContractVO)
            view["ec_sign_apply_infos"] = [
                {
                    "biz_no": c.contract_no,
                    "status": c.status,
                    "contracts": [self._contract_file_view(c)],
                }
            ]
        if order.close_info is not None:
            view["close_info"] = order.close_info
        return view

    def _contract_file_view(self, contract: SimContract) -> dict[str, Any]:
        """One of RentEcSignApplyInfoVO.contracts (RentEcSignContractVO): the template, the
        status and, once every party signed, the signed document's `file_url`."""
        view = {"ec_template_code": contract.template_id, "status": contract.status}
        if contract.status in ("SIGNED", "SEALED"):
            path = CONTRACT_FILE_PATH.format(contract_no=quote(contract.contract_no))
            view["file_url"] = self.base_url + path
        return view

    async def order_query(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        if not biz.get("order_id") and not biz.get("out_order_id"):
            return invalid_parameter("order_id与out_order_id不能同时为空")
        order = self.find_order(biz)
        if order is None:
            return business_error("ORDER_NOT_EXIST", "订单不存在")
        return success(query_options=biz.get("query_options") or [], **self._order_view(order))

    async def plan_append(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        if biz.get("type") != PLAN_CANCEL:
            return invalid_parameter("type不支持")
        order = self.find_order(biz)
        if order is None:
            return business_error("ORDER_NOT_EXIST", "订单不存在")
        cancel = biz.get("cancel_info")
        if not isinstance(cancel, dict) or not cancel.get("reason_code"):
            return invalid_parameter("cancel_info.reason_code不能为空")
        start = cancel.get("cancel_start_installment_no")
        if start is not None and not any(i["installment_no"] == start for i in order.installments):
            return invalid_parameter("cancel_info.cancel_start_installment_no不存在")
        if order.plan_status == "ACTIVE":
            order.plan_status = "CANCELLED"
            order.cancel_info = {
                "reason_code": cancel["reason_code"],
                "reason_desc": cancel.get("reason_desc"),
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

"""The simulated contract pre-signing: the signing call, the parties' signing pages, the seal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from plugins.alipay_openapi.client import encode_biz_content
from plugins.alipay_openapi.sandbox import (
    business_error,
    success,
)
from plugins.ant_lease.client import (
    CONTRACT_SIGN_NOTIFY,
    SignatureStatus,
)
from plugins.ant_lease.simulator.base import SimulatorBase
from plugins.ant_lease.simulator.records import (
    CONTRACT_PATH,
    Scenario,
    SimContract,
    SimOrder,
    invalid_parameter,
)


class ContractSigning(SimulatorBase):
    """The contract of an order: pre-sign, every party signs on its page, then the seal."""

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
            return invalid_parameter("rent_sign_info.contract_template_id不能为空")
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

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
from plugins.alipay_openapi.sandbox_request import SandboxFile
from plugins.ant_lease.client import (
    CONTRACT_SIGN_NOTIFY,
    SEAL_FILE_PARAM,
    SignatureStatus,
)
from plugins.ant_lease.simulator.base import SimulatorBase
from plugins.ant_lease.simulator.records import (
    CONTRACT_PATH,
    Scenario,
    SimContract,
    SimOrder,
    invalid_parameter,
    validate_seal,
)


class ContractSigning(SimulatorBase):
    """The contract of an order: pre-sign, every party signs on its page, then the seal."""

    def contract_url(self, contract_no: str, party: str) -> str:
        path = CONTRACT_PATH.format(contract_no=contract_no)
        return f"{self.base_url}{path}?{urlencode({'party': party})}"

    async def ecsign_apply(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        """alipay.commerce.rent.order.ecsign.apply: order_id, biz_no, ec_template_codes, signers
        (each party as its `type`), ecsign_notify_url. Answers no field of its own."""
        order = self.find_order({"order_id": biz.get("order_id")}) if biz.get("order_id") else None
        if order is None:
            return business_error("ORDER_NOT_EXIST", "订单不存在")
        if order.status == "CLOSED":
            return business_error("ORDER_STATUS_NOT_SUPPORT", "订单已关闭")
        biz_no, codes, signers = biz.get("biz_no"), biz.get("ec_template_codes"), biz.get("signers")
        if not isinstance(biz_no, str) or not biz_no:
            return invalid_parameter("biz_no不能为空")
        if not isinstance(codes, list) or len(codes) != 1 or not isinstance(codes[0], str):
            return invalid_parameter("ec_template_codes须为一个合同模板编码")
        if not isinstance(signers, list) or not all(isinstance(s, dict) and s.get("type") for s in signers):
            return invalid_parameter("signers须含type")
        parties = self.templates.get(codes[0])
        if parties is None:
            return business_error("CONTRACT_TEMPLATE_NOT_EXIST", "合同模板不存在")
        if {p.upper() for p in parties} - {str(s["type"]) for s in signers}:
            return invalid_parameter("signers缺少合同模板要求的签署方")
        return self._apply(order, biz_no, codes[0], parties, biz.get("ecsign_notify_url"))

    def _apply(
        self, order: SimOrder, biz_no: str, template: str, parties: tuple[str, ...], notify_url: Any
    ) -> Mapping[str, Any]:
        current = order.contract
        if current is not None and current.status in ("SIGNED", "SEALED"):
            return business_error("CONTRACT_ALREADY_SIGNED", "合同已签署")
        if current is not None and current.status == "SIGNING" and current.contract_no == biz_no:
            return success()
        url = notify_url if isinstance(notify_url, str) and notify_url else None
        order.contract = SimContract(biz_no, template, parties, url)
        return success()

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

    def contract_file(self, contract_no: str) -> bytes | None:
        """The signed contract's document (None until every party has signed)."""
        found = self._contract_of(contract_no)
        if found is None or found[1].status not in ("SIGNED", "SEALED"):
            return None
        return found[1].document()

    async def seal_sign(
        self, params: dict[str, str], common: Mapping[str, str], files: Mapping[str, SandboxFile]
    ) -> Mapping[str, Any]:
        """alipay.commerce.rent.enterprise.seal.sign: top-level parameters (biz_no, biz_name,
        sign_area_org, sign_area_person, signer_user_name, signer_user_cert_number) and the
        signed contract's document as `file_content`; answers biz_no and sign_flow_id. The old
        biz_content form, and any parameter the SDK's request has not, are refused."""
        invalid = validate_seal(params, files)
        if invalid is not None:
            return invalid
        found = self._contract_of(params["biz_no"])
        if found is None:
            return business_error("CONTRACT_NOT_EXIST", "合同不存在")
        order, contract = found
        if contract.status not in ("SIGNED", "SEALED"):
            return business_error("CONTRACT_NOT_SIGNED", "合同尚未签署完成")
        if files[SEAL_FILE_PARAM].content != contract.document():
            return invalid_parameter("file_content与已签署的合同文件不一致")
        if contract.status == "SIGNED":
            contract.status, contract.sealed_at = "SEALED", self._now()
            contract.sign_flow_id = self._next("SF")
            order.status = "RENTING"
        return success(biz_no=contract.contract_no, sign_flow_id=contract.sign_flow_id)

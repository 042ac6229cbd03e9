"""The simulated withholding agreements: the page the user signs, query, unsign."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from plugins.alipay_openapi.sandbox import (
    business_error,
    success,
)
from plugins.alipay_openapi.times import format_alipay_time, parse_alipay_time
from plugins.ant_lease.client import (
    ASYNC_UNSIGN_REFUSE,
    DUT_USER_SIGN,
    DUT_USER_UNSIGN,
    AgreementState,
)
from plugins.ant_lease.simulator.base import SimulatorBase
from plugins.ant_lease.simulator.records import (
    PAGE_VALIDITY,
    USER_ID,
    Scenario,
    SimAgreement,
    invalid_parameter,
)


class WithholdingAgreements(SimulatorBase):
    """alipay.user.agreement.page.sign / .query / .unsign and the dut_user_* notifications."""

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
            user_id=user_id if USER_ID.match(user_id) else "2088000000000000",
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

    async def agreement_query(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        if not biz.get("agreement_no") and not biz.get("external_agreement_no"):
            return invalid_parameter("agreement_no与external_agreement_no不能同时为空")
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
                return invalid_parameter("operate_type不支持")
            if agreement.status is not AgreementState.NORMAL:
                return business_error("AGREEMENT_STATUS_NOT_NORMAL", "协议状态非正常")
            try:
                extend = json.loads(str(biz.get("extend_params") or "{}"))
            except ValueError:
                return invalid_parameter("extend_params不是合法的JSON")
            agreement.refusals.append({"operation": operation, **extend, "at": self._now()})
            return success()
        if agreement.status is AgreementState.NORMAL:
            agreement.status, agreement.unsign_time = AgreementState.UNSIGN, self._now()
            self._agreement_notice(agreement, DUT_USER_UNSIGN)
        return success()

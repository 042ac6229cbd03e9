"""The simulated withholding deductions: alipay.trade.pay, alipay.trade.query and their 撤销
(alipay.trade.cancel: an unpaid trade closed for good, a paid one refunded)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.alipay_openapi.sandbox import (
    SandboxAnswer,
    business_error,
    success,
)
from plugins.alipay_openapi.signing import generate_private_key
from plugins.ant_lease.client import (
    TRADE_STATUS_SYNC,
    AgreementState,
    TradeStatus,
)
from plugins.ant_lease.simulator.base import SimulatorBase
from plugins.ant_lease.simulator.records import (
    Scenario,
    SimTrade,
    positive_amount,
)


class Deductions(SimulatorBase):
    """A period withheld under an agreement, its trade, and the trade_status_sync notification."""

    async def trade_pay(
        self, biz: dict[str, Any], common: Mapping[str, str]
    ) -> Mapping[str, Any] | SandboxAnswer:
        for name in ("out_trade_no", "total_amount", "subject", "product_code"):
            if not isinstance(biz.get(name), str) or not biz[name]:
                return business_error("ACQ.INVALID_PARAMETER", f"{name}不能为空")
        amount = positive_amount(biz["total_amount"])
        if amount is None:
            return business_error("ACQ.INVALID_PARAMETER", "total_amount格式错误")
        params = biz.get("agreement_params")
        agreement_no = params.get("agreement_no") if isinstance(params, dict) else None
        if biz["product_code"] != "GENERAL_WITHHOLDING" or not agreement_no:
            return business_error("ACQ.INVALID_PARAMETER", "代扣须传GENERAL_WITHHOLDING与agreement_no")
        if biz["out_trade_no"] in self.cancelled_unknown:
            return business_error("ACQ.TRADE_HAS_CLOSE", "交易已关闭")
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
        self._play(trade, scenario)
        self.trades[trade.out_trade_no] = trade
        if scenario == Scenario.BAD_SIGN:
            return SandboxAnswer(trade.answer, signing_key=generate_private_key())
        return trade.answer

    def _play(self, trade: SimTrade, scenario: str) -> None:
        """A new trade's outcome and first answer, as the amount's scenario says."""
        key = (trade.agreement.agreement_no, str(trade.biz["total_amount"]))
        refused = scenario == Scenario.ALWAYS_FAIL or (
            scenario == Scenario.FAIL_ONCE and key not in self.failed_once
        )
        if refused:
            self.failed_once.add(key)
            trade.status = TradeStatus.TRADE_CLOSED
            trade.answer = business_error("ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足")
        elif scenario == Scenario.STUCK:  # waits for good; the first cancel asks for a retry
            trade.status, trade.waits_left, trade.cancel_retries = TradeStatus.WAIT_BUYER_PAY, -1, 1
            trade.answer = business_error("ACQ.SYSTEM_ERROR", "系统异常")
        elif scenario == Scenario.WAIT_THEN_PAID:
            trade.status, trade.waits_left = TradeStatus.WAIT_BUYER_PAY, 1
            trade.answer = {
                "code": "10003",
                "msg": "order success pay inprocess",
                **self._trade_fields(trade),
            }
        else:
            self._paid(trade)
            system_error = business_error("ACQ.SYSTEM_ERROR", "系统异常")
            trade.answer = (
                system_error if scenario == Scenario.SYSTEM_ERROR else success(**self._trade_fields(trade))
            )

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
        extend = trade.biz.get("extend_params")
        link = extend if isinstance(extend, dict) else {}
        order = self.find_order({"order_id": link.get("trade_component_order_id")}) if link else None
        if order is not None:
            for item in order.installments:
                if str(item["installment_no"]) == str(link.get("tc_installment_order_id")):
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
        if trade.status is TradeStatus.WAIT_BUYER_PAY and trade.waits_left >= 0:
            if trade.waits_left > 0:
                trade.waits_left -= 1
            else:
                self._paid(trade)
        fields = self._trade_fields(trade)
        if trade.gmt_payment:
            fields["send_pay_date"] = trade.gmt_payment
        return success(trade_status=trade.status.value, **fields)

    async def trade_cancel(self, biz: dict[str, Any], common: Mapping[str, str]) -> Mapping[str, Any]:
        """撤销: an unpaid trade is closed (action close) and can never be paid; a paid one is
        refunded in full (action refund) and closed; an out_trade_no never paid is remembered
        so a late trade.pay under it is refused (no action: there was no trade)."""
        out_trade_no = biz.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not out_trade_no:
            return business_error("ACQ.INVALID_PARAMETER", "out_trade_no不能为空")
        trade = self.trades.get(out_trade_no)
        if trade is None:
            self.cancelled_unknown.add(out_trade_no)
            return success(out_trade_no=out_trade_no, retry_flag="N")
        if trade.cancel_action is None and trade.cancel_retries > 0:
            trade.cancel_retries -= 1
            return success(trade_no=trade.trade_no, out_trade_no=out_trade_no, retry_flag="Y")
        if trade.cancel_action is None:
            paid = trade.status in (TradeStatus.TRADE_SUCCESS, TradeStatus.TRADE_FINISHED)
            trade.cancel_action = "refund" if paid else "close"
            trade.status = TradeStatus.TRADE_CLOSED
            trade.answer = business_error("ACQ.TRADE_HAS_CLOSE", "交易已关闭")
        return success(
            trade_no=trade.trade_no, out_trade_no=out_trade_no, retry_flag="N", action=trade.cancel_action
        )

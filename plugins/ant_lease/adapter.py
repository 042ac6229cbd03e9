"""The Ant Lease channel's ports: signing (contract pre-sign, withholding agreement), payment and
query (a period withheld with alipay.trade.pay), notification, and the lease operations."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.lease.order import LeaseOrder
from core.lease.parts import UnsignRefusal
from core.lease.status import CancelReason, PeriodStatus
from plugins.alipay_openapi.codes import NOT_PAID
from plugins.alipay_openapi.errors import (
    INVALID_REQUEST,
    NotifyVerificationError,
    RequestNotSentError,
    outcome_code,
)
from plugins.alipay_openapi.notify import ACKNOWLEDGEMENT, notice_amount, verify_form_post
from plugins.ant_lease.answers import (
    agreement_event,
    agreement_signing_result,
    contract_event,
    contract_signing_result,
    trade_result,
)
from plugins.ant_lease.calls import failure_code
from plugins.ant_lease.cancel import TradeCancel
from plugins.ant_lease.client import (
    AGREEMENT_PAGE_SIGN,
    AGREEMENT_QUERY,
    AGREEMENT_UNSIGN,
    ORDER_CLOSE,
    ORDER_CREATE,
    ORDER_QUERY,
    PLAN_APPEND,
    TRADE_PAY,
    TRADE_QUERY,
    Installment,
    cancel_plan_biz,
    close_biz,
    create_order_biz,
    query_order_biz,
)
from plugins.ant_lease.contract_ops import ContractOperations
from plugins.ant_lease.notices import AgreementNotice, TradeNotice, parse_notice
from ports.channels import (
    ChannelNotification,
    ChannelResult,
    ChannelStatus,
    NotificationRejected,
    PaymentRequest,
    RequestNotSent,
    SigningRequest,
    SigningResult,
)
from ports.lease import (
    CONTRACT_SIGNING,
    WITHHOLDING_SIGNING,
    LeaseAnswer,
)

log = logging.getLogger("paygate.ant_lease")

WAIT_USER_PAY = "10003"  # trade.pay accepted, waiting for the buyer: processing
TRADE_HAS_SUCCESS = "TRADE_HAS_SUCCESS"  # this out_trade_no was already paid: a query gets the trade
# trade.query's ACQ.TRADE_NOT_EXIST (normalised): Alipay has no trade under this out_trade_no
TRADE_NOT_EXIST = "TRADE_NOT_EXIST"
NO_AGREEMENT = "NO_AGREEMENT"


class AntLeaseAdapter(ContractOperations, TradeCancel):
    """One Alipay app speaking the rent order component, withholding agreements and
    withholding deductions (and their 撤销, the CancelPort). A deduction's out_trade_no is
    the platform's payment id, so a resubmitted attempt is never a second deduction."""

    # -- payment port: one period withheld ---------------------------------------------------
    async def submit(self, request: PaymentRequest) -> ChannelResult:
        """Send trade.pay. Raises `RequestNotSent` when nothing reached Alipay (no agreement, a
        request not built or signed, no connection): the deduction fails with its code.
        Anything after a connection was opened is unknown, resolved by trade.query."""
        biz = self._deduction_biz(request)
        response, exchange, error = await self._call(TRADE_PAY, biz, request.payer_account)
        exchanges = (exchange,)
        if isinstance(error, RequestNotSentError):
            raise RequestNotSent(error.code, error.message) from error
        if response is None:
            assert error is not None
            return ChannelResult(
                ChannelStatus.UNKNOWN, code=outcome_code(error), message=str(error), exchanges=exchanges
            )
        trade_no = response.get("trade_no")
        if response.is_success:
            paid = response.get("total_amount")
            if paid is not None and paid != biz["total_amount"]:
                return ChannelResult(
                    ChannelStatus.UNKNOWN,
                    channel_ref=trade_no,
                    code="AMOUNT_MISMATCH",
                    message=f"Alipay reports {paid}, expected {biz['total_amount']}",
                    exchanges=exchanges,
                )
            raw = {"gmt_payment": response.get("gmt_payment") or ""}
            return ChannelResult(ChannelStatus.SUCCEEDED, channel_ref=trade_no, raw=raw, exchanges=exchanges)
        if response.code == WAIT_USER_PAY:
            return ChannelResult(ChannelStatus.PROCESSING, channel_ref=trade_no, exchanges=exchanges)
        code, message = failure_code(response), response.sub_msg
        if code == TRADE_HAS_SUCCESS:
            return ChannelResult(ChannelStatus.PROCESSING, code=code, message=message, exchanges=exchanges)
        if response.classification in NOT_PAID:
            return ChannelResult(ChannelStatus.FAILED, code=code, message=message, exchanges=exchanges)
        return ChannelResult(ChannelStatus.UNKNOWN, code=code, message=message, exchanges=exchanges)

    def _deduction_biz(self, request: PaymentRequest) -> dict[str, Any]:
        d = request.details
        agreement_no = d.get("agreement_no")
        if not isinstance(agreement_no, str) or not agreement_no:
            raise RequestNotSent(NO_AGREEMENT, "no withholding agreement")
        installment = d.get("installment_no")
        try:
            return self.product.deduction_biz(
                request.payment_id,
                request.amount.decimal,
                str(d.get("subject") or request.memo or "rent"),
                agreement_no,
                d.get("channel_order_id"),
                int(installment) if installment is not None else None,
            )
        except (TypeError, ValueError) as exc:
            raise RequestNotSent(INVALID_REQUEST, f"deduction not built: {exc}") from exc

    # -- query port --------------------------------------------------------------------------
    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        response, exchange, error = await self._call(
            TRADE_QUERY, {"out_trade_no": request.payment_id}, request.payer_account
        )
        exchanges = (exchange,)
        if response is None:
            assert error is not None
            return ChannelResult(
                ChannelStatus.UNKNOWN, code=outcome_code(error), message=str(error), exchanges=exchanges
            )
        if not response.is_success:
            # TRADE_NOT_EXIST included: not visible (yet) is never proof of failure; after the
            # request's deadline, proof it never arrived (the payments' resolver resends it)
            code = failure_code(response)
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                channel_ref=channel_ref,
                code=code,
                message=response.sub_msg,
                exchanges=exchanges,
                order_not_found=code == TRADE_NOT_EXIST,
            )
        total = response.get("total_amount")
        expected = f"{request.amount.decimal:.2f}"
        ref = response.get("trade_no") or channel_ref
        if total is not None and total != expected:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                channel_ref=ref,
                code="AMOUNT_MISMATCH",
                message=f"Alipay reports {total}, expected {expected}",
                exchanges=exchanges,
            )
        return trade_result(response.get("trade_status"), ref, "query", exchanges)

    # -- notification port -------------------------------------------------------------------
    async def verify_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        """trade_status_sync (a deduction), dut_user_sign / dut_user_unsign (the agreement) and
        the contract-signing message, verified with Alipay's public key and our app id."""
        try:
            verified = verify_form_post(headers, body, self._public_key, expected_app_id=self.openapi.app_id)
            notice = parse_notice(verified)
            amount = (
                notice_amount(notice.total_amount, "total_amount")
                if isinstance(notice, TradeNotice)
                else None
            )
        except NotifyVerificationError as exc:
            raise NotificationRejected(str(exc)) from exc
        if isinstance(notice, TradeNotice):
            result = trade_result(notice.raw_status, notice.trade_no, "trade_status_sync")
            return ChannelNotification(notice.out_trade_no, result, reply_body=ACKNOWLEDGEMENT, amount=amount)
        if isinstance(notice, AgreementNotice):
            return ChannelNotification(None, event=agreement_event(notice), reply_body=ACKNOWLEDGEMENT)
        return ChannelNotification(None, event=contract_event(notice), reply_body=ACKNOWLEDGEMENT)

    # -- signing port ------------------------------------------------------------------------
    async def start_signing(self, request: SigningRequest) -> SigningResult:
        if request.kind == CONTRACT_SIGNING:
            return await self._pre_sign(request)
        if request.kind == WITHHOLDING_SIGNING:
            return self._page_sign(request)
        return SigningResult(ChannelStatus.FAILED, code="UNSUPPORTED_SIGNING", message=request.kind)

    def _page_sign(self, request: SigningRequest) -> SigningResult:
        d = request.details
        external_no = str(d["external_agreement_no"])
        biz = self.product.page_sign_biz(external_no, str(d.get("buyer_id") or ""))
        return_url = d.get("return_url") or self.settings.return_url
        url = self.client().build_page_url(AGREEMENT_PAGE_SIGN, biz, return_url=return_url)
        return SigningResult(
            ChannelStatus.PROCESSING,
            sign_url=url,
            agreement_ref=external_no,
            raw={"method": AGREEMENT_PAGE_SIGN, "biz_content": biz},
        )

    async def query_signing(self, request: SigningRequest) -> SigningResult:
        d = request.details
        if request.kind == WITHHOLDING_SIGNING:
            biz = self.product.query_biz(str(d["external_agreement_no"]), d.get("agreement_no"))
            answer = await self._operation(AGREEMENT_QUERY, biz, d.get("buyer_id"))
            return agreement_signing_result(answer)
        if request.kind == CONTRACT_SIGNING:
            answer = await self._operation(
                ORDER_QUERY, query_order_biz(request.subject_id, d.get("channel_order_id"), "contractInfo")
            )
            return contract_signing_result(answer, d.get("contract_no"))
        return SigningResult(ChannelStatus.FAILED, code="UNSUPPORTED_SIGNING", message=request.kind)

    # -- lease operations (ports.lease.LeaseChannelPort) -------------------------------------
    async def sync_order(self, order: LeaseOrder) -> LeaseAnswer:
        installments = [Installment(p.no, p.due_date, p.amount.decimal) for p in order.periods]
        biz = create_order_biz(
            order.id, order.buyer_id, order.title, order.out_order_no, order.total.decimal, installments
        )
        answer = await self._operation(ORDER_CREATE, biz, order.buyer_id)
        if answer.status is ChannelStatus.SUCCEEDED and not answer.data.get("order_id"):
            return LeaseAnswer(
                ChannelStatus.UNKNOWN, "MALFORMED_ANSWER", "no order_id", exchanges=answer.exchanges
            )
        data = {"channel_order_id": answer.data.get("order_id")} if answer.data else {}
        return LeaseAnswer(answer.status, answer.code, answer.message, data, answer.exchanges)

    async def query_order(self, order: LeaseOrder, query_type: str) -> LeaseAnswer:
        biz = query_order_biz(order.id, order.channel_order_id, query_type)
        return await self._operation(ORDER_QUERY, biz, order.buyer_id)

    async def unsign_agreement(self, order: LeaseOrder, reason: str) -> LeaseAnswer:
        a = order.agreement
        biz = self.product.unsign_biz(a.agreement_no or "", a.external_agreement_no)
        return await self._operation(AGREEMENT_UNSIGN, biz, order.buyer_id)

    async def confirm_async_unsign(self, order: LeaseOrder, refusal: UnsignRefusal) -> LeaseAnswer:
        biz = self.product.async_unsign_biz(
            order.agreement.agreement_no or "",
            refusal.operation.value,
            refusal.service_user,
            refusal.user_debt.decimal,
            refusal.reason,
        )
        return await self._operation(AGREEMENT_UNSIGN, biz, order.buyer_id)

    async def cancel_plan(self, order: LeaseOrder, reason: CancelReason, note: str) -> LeaseAnswer:
        unpaid = [p.no for p in order.periods if p.status in (PeriodStatus.PENDING, PeriodStatus.FAILED)]
        biz = cancel_plan_biz(
            order.id, order.channel_order_id, reason.value.upper(), note, min(unpaid, default=None)
        )
        return await self._operation(PLAN_APPEND, biz)

    async def close_order(self, order: LeaseOrder, reason: str) -> LeaseAnswer:
        if order.fulfilled:
            reason_code = "USER_FULFILLED"
        elif order.plan.cancel_reason is not None:
            reason_code = order.plan.cancel_reason.value.upper()
        else:
            reason_code = "OTHER"
        return await self._operation(
            ORDER_CLOSE, close_biz(order.id, order.channel_order_id, reason_code, reason)
        )

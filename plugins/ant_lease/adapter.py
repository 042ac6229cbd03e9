"""The Ant Lease channel's ports: signing (contract pre-sign, withholding agreement), payment and
query (a period withheld with alipay.trade.pay), notification, and the lease operations."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.lease.order import LeaseOrder
from core.lease.parts import UnsignRefusal
from core.lease.status import CancelReason, PeriodStatus
from core.payouts.payees import mask_account
from plugins.alipay_openapi.channel import OpenApiAdapter
from plugins.alipay_openapi.client import FileUpload
from plugins.alipay_openapi.codes import NOT_PAID, is_system_fault, normalise_sub_code
from plugins.alipay_openapi.errors import NotifyVerificationError, UnknownOutcomeError, outcome_code
from plugins.alipay_openapi.notify import ACKNOWLEDGEMENT, verify_form_post
from plugins.alipay_openapi.response import OpenApiResponse
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.ant_lease.answers import (
    agreement_event,
    agreement_signing_result,
    contract_event,
    contract_signing_result,
    trade_result,
)
from plugins.ant_lease.client import (
    AGREEMENT_PAGE_SIGN,
    AGREEMENT_QUERY,
    AGREEMENT_UNSIGN,
    CONTRACT_SEAL,
    ECSIGN_APPLY,
    ORDER_CLOSE,
    ORDER_CREATE,
    ORDER_QUERY,
    PLAN_APPEND,
    SEAL_FILE_PARAM,
    TRADE_PAY,
    TRADE_QUERY,
    Installment,
    cancel_plan_biz,
    close_biz,
    contract_biz_no,
    contract_file_url,
    create_order_biz,
    ecsign_apply_biz,
    query_order_biz,
    seal_sign_params,
)
from plugins.ant_lease.notices import AgreementNotice, TradeNotice, parse_notice
from plugins.ant_lease.settings import AntLeaseSettings
from ports.channels import (
    ChannelNotification,
    ChannelResult,
    ChannelStatus,
    Exchange,
    NotificationRejected,
    PaymentRequest,
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


def _failure_code(response: OpenApiResponse) -> str:
    return normalise_sub_code(response.sub_code) if response.sub_code else response.code


def _answer_data(response: OpenApiResponse) -> dict[str, Any]:
    return {k: v for k, v in response.body.items() if k not in ("code", "msg", "sub_code", "sub_msg")}


class AntLeaseAdapter(OpenApiAdapter):
    """One Alipay app speaking the rent order component, withholding agreements and
    withholding deductions. A deduction's out_trade_no is the platform's payment id, so a
    resubmitted attempt is never a second deduction."""

    def __init__(self, settings: AntLeaseSettings, openapi: AlipayOpenApiSettings) -> None:
        self.settings = settings
        super().__init__(openapi)
        self.product = settings.product

    async def _call(
        self,
        method: str,
        biz: Mapping[str, Any],
        masked: str | None = None,
        files: Mapping[str, FileUpload] | None = None,
    ) -> tuple[OpenApiResponse | None, Exchange, UnknownOutcomeError | None]:
        """Send one call (`biz` is the biz_content, or with `files` the top-level parameters of
        an upload); the exchange is logged with `masked` (the lessee's Alipay id, the signer's
        identity number) masked and each file by its name and size only."""

        def mask(text: str) -> str:
            return text.replace(masked, mask_account(masked)) if masked else text

        shown = {**biz, **{n: f"<{f.file_name}, {len(f.content)} bytes>" for n, f in (files or {}).items()}}
        wire = mask(json.dumps(shown, ensure_ascii=False, separators=(",", ":")))
        try:
            if files is None:
                response = await self.client().execute(method, biz)
            else:
                response = await self.client().execute_upload(method, biz, files)
        except UnknownOutcomeError as exc:
            return None, Exchange(method, wire, None, str(exc)), exc
        return response, Exchange(method, wire, mask(response.raw)), None

    async def _operation(
        self,
        method: str,
        biz: Mapping[str, Any],
        masked: str | None = None,
        files: Mapping[str, FileUpload] | None = None,
    ) -> LeaseAnswer:
        """A call that moves no money: done, refused (any verified failure but a system
        fault), or unknown."""
        response, exchange, error = await self._call(method, biz, masked, files)
        if response is None:
            assert error is not None
            return LeaseAnswer(ChannelStatus.UNKNOWN, outcome_code(error), str(error), exchanges=(exchange,))
        if response.is_success:
            return LeaseAnswer(ChannelStatus.SUCCEEDED, data=_answer_data(response), exchanges=(exchange,))
        status = (
            ChannelStatus.UNKNOWN
            if is_system_fault(response.sub_code, response.code)
            else ChannelStatus.FAILED
        )
        return LeaseAnswer(
            status, _failure_code(response), response.sub_msg or response.msg, exchanges=(exchange,)
        )

    # -- payment port: one period withheld ---------------------------------------------------
    async def submit(self, request: PaymentRequest) -> ChannelResult:
        d = request.details
        agreement_no = d.get("agreement_no")
        if not isinstance(agreement_no, str) or not agreement_no:
            return ChannelResult(
                ChannelStatus.FAILED, code="NO_AGREEMENT", message="no withholding agreement"
            )
        installment = d.get("installment_no")
        biz = self.product.deduction_biz(
            request.payment_id,
            request.amount.decimal,
            str(d.get("subject") or request.memo or "rent"),
            agreement_no,
            d.get("channel_order_id"),
            int(installment) if installment is not None else None,
        )
        response, exchange, error = await self._call(TRADE_PAY, biz, request.payer_account)
        exchanges = (exchange,)
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
        code, message = _failure_code(response), response.sub_msg
        if code == TRADE_HAS_SUCCESS:
            return ChannelResult(ChannelStatus.PROCESSING, code=code, message=message, exchanges=exchanges)
        if response.classification in NOT_PAID:
            return ChannelResult(ChannelStatus.FAILED, code=code, message=message, exchanges=exchanges)
        return ChannelResult(ChannelStatus.UNKNOWN, code=code, message=message, exchanges=exchanges)

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
            # TRADE_NOT_EXIST included: not visible (yet) is never proof of failure
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                channel_ref=channel_ref,
                code=_failure_code(response),
                message=response.sub_msg,
                exchanges=exchanges,
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
        except NotifyVerificationError as exc:
            raise NotificationRejected(str(exc)) from exc
        if isinstance(notice, TradeNotice):
            result = trade_result(notice.raw_status, notice.trade_no, "trade_status_sync")
            return ChannelNotification(notice.out_trade_no, result, reply_body=ACKNOWLEDGEMENT)
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

    async def _pre_sign(self, request: SigningRequest) -> SigningResult:
        """前置合同签署 as alipay.commerce.rent.order.ecsign.apply: its answer carries no field of
        its own, so the contract's reference is our biz_no and each party's page comes from
        the settings (`contract_sign_url`)."""
        d = request.details
        order_id = d.get("channel_order_id")
        if not order_id:
            return SigningResult(
                ChannelStatus.FAILED, code="NO_CHANNEL_ORDER", message="the order is not synced yet"
            )
        template = str(d["template_id"])
        known = await self._operation(
            ORDER_QUERY, query_order_biz(request.subject_id, order_id, "contractInfo")
        )
        if known.status is not ChannelStatus.SUCCEEDED:
            return SigningResult(
                known.status, code=known.code, message=known.message, exchanges=known.exchanges
            )
        applied = [i for i in known.data.get("ec_sign_apply_infos") or () if isinstance(i, Mapping)]
        biz_no = contract_biz_no(request.subject_id, template, applied)
        parties = self.settings.parties_of(template)
        biz = ecsign_apply_biz(str(order_id), biz_no, template, parties, self.openapi.notify_url)
        answer = await self._operation(ECSIGN_APPLY, biz)
        exchanges = known.exchanges + answer.exchanges
        if answer.status is not ChannelStatus.SUCCEEDED:
            return SigningResult(answer.status, code=answer.code, message=answer.message, exchanges=exchanges)
        gateway = self.openapi.gateway_url
        signers = [
            {"party": p, "sign_url": self.settings.party_sign_url(gateway, biz_no, str(order_id), p)}
            for p in parties
        ]
        return SigningResult(
            ChannelStatus.PROCESSING,
            sign_url=signers[0]["sign_url"],
            agreement_ref=biz_no,
            raw={"signers": signers},
            exchanges=exchanges,
        )

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

    async def finalise_contract(self, order: LeaseOrder) -> LeaseAnswer:
        """落签 as alipay.commerce.rent.enterprise.seal.sign: the lessor's seal and signature on
        the contract every party signed. The contract file is the signed document Alipay
        holds (order.query's `file_url` of the signing), uploaded as `file_content`; the seal's
        position and the signer come from the settings."""
        biz_no = order.contract.contract_no or ""
        known = await self._operation(
            ORDER_QUERY, query_order_biz(order.id, order.channel_order_id, "contractInfo"), order.buyer_id
        )
        if known.status is not ChannelStatus.SUCCEEDED:
            return known
        applied = [i for i in known.data.get("ec_sign_apply_infos") or () if isinstance(i, Mapping)]
        url = contract_file_url(applied, biz_no)
        if url is None:
            return LeaseAnswer(
                ChannelStatus.FAILED,
                "CONTRACT_FILE_NOT_FOUND",
                f"Alipay shows no signed contract file for {biz_no}",
                exchanges=known.exchanges,
            )
        try:
            content = await self.client().download(url)
        except UnknownOutcomeError as exc:
            fetch = Exchange("GET contract file", url, None, str(exc))
            return LeaseAnswer(
                ChannelStatus.UNKNOWN, outcome_code(exc), str(exc), exchanges=(*known.exchanges, fetch)
            )
        signer = self.settings.seal_signer
        params = seal_sign_params(biz_no, order.title, signer)
        files = {SEAL_FILE_PARAM: FileUpload(f"{biz_no}.pdf", content, "application/pdf")}
        sealed = await self._operation(CONTRACT_SEAL, params, signer.signer_cert_number, files)
        return replace(sealed, exchanges=known.exchanges + sealed.exchanges)

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

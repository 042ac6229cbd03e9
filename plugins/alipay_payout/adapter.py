"""The payout channel's payment, query and notification ports over Alipay's fund-transfer API."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from core.payouts.payees import is_alipay_user_id, mask_account
from plugins.alipay_openapi.channel import OpenApiAdapter
from plugins.alipay_openapi.codes import NOT_PAID, normalise_sub_code
from plugins.alipay_openapi.errors import (
    INVALID_REQUEST,
    NotifyVerificationError,
    RequestNotSentError,
    UnknownOutcomeError,
    outcome_code,
)
from plugins.alipay_openapi.notify import ACKNOWLEDGEMENT, notice_amount, verify_form_post
from plugins.alipay_openapi.response import OpenApiResponse
from plugins.alipay_openapi.results import mapped_result
from plugins.alipay_openapi.settings import AlipayOpenApiSettings
from plugins.alipay_payout.client import (
    QUERY_METHOD,
    TRANSFER_METHOD,
    BankAccountType,
    BankcardExtInfo,
    IdentityType,
    Payee,
    ProductCode,
    TransferOrder,
    TransferQuery,
    TransferResult,
    TransferStatus,
    query_transfer,
    transfer,
)
from plugins.alipay_payout.order_changed import parse_order_changed
from plugins.alipay_payout.settings import AlipayPayoutSettings
from ports.channels import (
    ChannelNotification,
    ChannelResult,
    ChannelStatus,
    Exchange,
    NotificationRejected,
    PaymentRequest,
    RequestNotSent,
)

log = logging.getLogger("paygate.alipay_payout")

# Alipay's status of a transfer, in the platform's words. REFUND: a bank-card transfer that
# was paid and then bounced (退票) — the money came back: the payment was made (it stays
# succeeded) and its payout is returned.
STATUS_MAP: dict[TransferStatus, ChannelStatus] = {
    TransferStatus.SUCCESS: ChannelStatus.SUCCEEDED,
    TransferStatus.DEALING: ChannelStatus.PROCESSING,
    TransferStatus.FAIL: ChannelStatus.FAILED,
    TransferStatus.REFUND: ChannelStatus.RETURNED,
}
INCONSISTENT = "PAYMENT_INFO_INCONSISTENCY"
INVALID_PAYEE_CODE = "INVALID_PAYEE"
REMARK_LIMIT = 200


class InvalidPayee(ValueError):
    """The payment lacks what Alipay needs to identify the payee; nothing was sent."""


def payee_of(request: PaymentRequest) -> Payee:
    """The payee of a payout payment: an Alipay account (user id or logon id) or a bank card.

    `details`: `payee_name`; for bank cards `bank` {main_bank, province, city, branch,
    bank_code} and `account_type` ("1" corporate, "2" personal; else from `business_type`
    B → corporate, C → personal).
    """
    d = request.details
    identity = (request.payee_account or "").strip()
    name = str(d.get("payee_name") or "") or None
    try:
        if request.pay_method == "bank":
            bank: Mapping[str, Any] = d.get("bank") or {}
            account_type = d.get("account_type") or ("1" if d.get("business_type") == "B" else "2")
            ext = BankcardExtInfo(
                account_type=BankAccountType(str(account_type)),
                inst_name=str(bank.get("main_bank") or ""),
                inst_province=bank.get("province"),
                inst_city=bank.get("city"),
                inst_branch_name=bank.get("branch"),
                bank_code=bank.get("bank_code"),
            )
            return Payee(identity, IdentityType.BANKCARD_ACCOUNT, name, ext)
        kind = IdentityType.ALIPAY_USER_ID if is_alipay_user_id(identity) else IdentityType.ALIPAY_LOGON_ID
        return Payee(identity, kind, name)
    except ValueError as exc:
        raise InvalidPayee(str(exc)) from exc


def product_code_of(request: PaymentRequest) -> ProductCode:
    if request.pay_method == "bank":
        return ProductCode.TRANS_BANKCARD_NO_PWD
    return ProductCode.TRANS_ACCOUNT_NO_PWD


def _masked_biz(biz: Mapping[str, Any]) -> str:
    """biz_content for the exchange log, with the payee's account and name masked."""
    copy: dict[str, Any] = dict(biz)
    payee = dict(copy.get("payee_info") or {})
    if payee:
        payee["identity"] = mask_account(str(payee.get("identity", "")))
        if payee.get("name"):
            payee["name"] = str(payee["name"])[:1] + "*"
        copy["payee_info"] = payee
    return json.dumps(copy, ensure_ascii=False, separators=(",", ":"))


def _masked_answer(response: OpenApiResponse, identity: str | None) -> str:
    raw = response.raw
    return raw.replace(identity, mask_account(identity)) if identity else raw


def status_result(
    status: TransferStatus | None,
    raw_status: str | None,
    ref: str | None,
    source: str,
    exchanges: tuple[Exchange, ...] = (),
    *,
    error_code: str | None = None,
    fail_reason: str | None = None,
    raw: Mapping[str, Any] | None = None,
) -> ChannelResult:
    """A transfer's status (from a transfer answer, a query or a message) as a ChannelResult;
    a status we do not know is an unknown outcome, never a failure."""
    return mapped_result(
        STATUS_MAP.get(status) if status else None,
        ref=ref,
        raw_status=raw_status,
        source=source,
        failure_code=error_code,
        failure_message=fail_reason,
        exchanges=exchanges,
        raw=raw,
    )


class AlipayPayoutAdapter(OpenApiAdapter):
    """`out_biz_no` is the platform's payment id: one payout has one payment, so a resend or a
    retried approval can never become a second transfer at Alipay."""

    def __init__(self, settings: AlipayPayoutSettings, openapi: AlipayOpenApiSettings) -> None:
        self.settings = settings
        super().__init__(openapi)

    def order_of(self, request: PaymentRequest) -> TransferOrder:
        d = request.details
        remark = str(d.get("remark") or request.memo or "")[:REMARK_LIMIT] or None
        return TransferOrder(
            out_biz_no=request.payment_id,
            trans_amount=request.amount.decimal,
            payee=payee_of(request),
            order_title=str(d.get("order_title") or self.settings.order_title),
            remark=remark,
        )

    # -- payment port ------------------------------------------------------------------------
    async def submit(self, request: PaymentRequest) -> ChannelResult:
        """Send uni.transfer. Raises `RequestNotSent` when nothing reached Alipay (a payee or
        amount it cannot take, a request not built or signed, no connection): the payment fails
        with its code. Anything after a connection was opened is unknown, resolved by query."""
        try:
            order = self.order_of(request)
            biz = order.to_biz_content()
        except InvalidPayee as exc:
            raise RequestNotSent(INVALID_PAYEE_CODE, str(exc)) from exc
        except (TypeError, ValueError) as exc:
            raise RequestNotSent(INVALID_REQUEST, str(exc)) from exc
        identity = order.payee.identity
        try:
            result = await transfer(self.client(), order)
        except RequestNotSentError as exc:
            raise RequestNotSent(exc.code, exc.message) from exc
        except UnknownOutcomeError as exc:
            # timeout, transport failure, unverifiable answer: it may have been paid
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                code=outcome_code(exc),
                message=str(exc),
                exchanges=(Exchange(TRANSFER_METHOD, _masked_biz(biz), None, str(exc)),),
            )
        exchanges = (Exchange(TRANSFER_METHOD, _masked_biz(biz), _masked_answer(result.response, identity)),)
        return self._transfer_result(result, exchanges)

    def _transfer_result(self, result: TransferResult, exchanges: tuple[Exchange, ...]) -> ChannelResult:
        ref = result.pay_fund_order_id or result.order_id
        if result.accepted:
            return status_result(result.status, result.raw_status, ref, "transfer", exchanges)
        code = result.sub_code or result.code
        message = result.sub_msg or None
        if result.sub_code and normalise_sub_code(result.sub_code) == INCONSISTENT:
            # an earlier order under this out_biz_no exists: only a query may say what it did
            return ChannelResult(ChannelStatus.UNKNOWN, code=code, message=message, exchanges=exchanges)
        if result.classification in NOT_PAID:
            return ChannelResult(ChannelStatus.FAILED, code=code, message=message, exchanges=exchanges)
        # SYSTEM_ERROR, 20000, unrecognised sub_codes: only a query may tell
        return ChannelResult(ChannelStatus.UNKNOWN, code=code, message=message, exchanges=exchanges)

    # -- query port --------------------------------------------------------------------------
    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        query = TransferQuery.by_out_biz_no(request.payment_id, product_code_of(request))
        wire = json.dumps(query.to_biz_content(), separators=(",", ":"))
        try:
            answer = await query_transfer(self.client(), query)
        except (UnknownOutcomeError, RequestNotSentError) as exc:
            # a query not sent learnt nothing either
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                code=outcome_code(exc),
                message=str(exc),
                exchanges=(Exchange(QUERY_METHOD, wire, None, str(exc)),),
            )
        exchanges = (Exchange(QUERY_METHOD, wire, _masked_answer(answer.response, request.payee_account)),)
        ref = answer.pay_fund_order_id or answer.order_id or channel_ref
        if not answer.found:
            # ORDER_NOT_EXIST: not visible (yet), never proof of failure; after the request's
            # deadline, proof that it never arrived (the payments' resolver resends it)
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                channel_ref=ref,
                code="ORDER_NOT_EXIST",
                message=answer.sub_msg,
                exchanges=exchanges,
                order_not_found=True,
            )
        if not answer.answered:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                channel_ref=ref,
                code=answer.sub_code or answer.code,
                message=answer.sub_msg,
                exchanges=exchanges,
            )
        if answer.trans_amount is not None and answer.trans_amount != request.amount.decimal:
            return ChannelResult(
                ChannelStatus.UNKNOWN,
                channel_ref=ref,
                code="AMOUNT_MISMATCH",
                message=f"Alipay reports {answer.trans_amount}, expected {request.amount}",
                exchanges=exchanges,
            )
        return status_result(
            answer.status,
            answer.raw_status,
            ref,
            "query",
            exchanges,
            error_code=answer.error_code,
            fail_reason=answer.fail_reason,
            raw={"pay_date": answer.pay_date.isoformat()} if answer.pay_date else {},
        )

    # -- notification port -------------------------------------------------------------------
    async def verify_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        """`alipay.fund.trans.order.changed`, verified with Alipay's public key; a forged,
        foreign, unsigned or non-form message raises NotificationRejected."""
        try:
            verified = verify_form_post(headers, body, self._public_key, expected_app_id=self.openapi.app_id)
            changed = parse_order_changed(verified)
            amount = notice_amount(changed.trans_amount, "trans_amount")
        except NotifyVerificationError as exc:
            raise NotificationRejected(str(exc)) from exc
        result = status_result(
            changed.status,
            changed.raw_status,
            changed.pay_fund_order_id or changed.order_id,
            "order.changed",
            error_code=changed.error_code,
            fail_reason=changed.fail_reason,
            raw={"notify_id": changed.notify_id or ""},
        )
        log.info(
            "alipay order.changed verified",
            extra={"out_biz_no": changed.out_biz_no, "status": changed.raw_status},
        )
        return ChannelNotification(changed.out_biz_no, result, reply_body=ACKNOWLEDGEMENT, amount=amount)

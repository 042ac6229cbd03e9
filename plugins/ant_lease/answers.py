"""How the Ant Lease channel's answers and notifications read in the platform's terms: trade
status, agreement and contract signing results, and the lease events."""

from __future__ import annotations

from collections.abc import Mapping

from plugins.alipay_openapi.results import mapped_result
from plugins.ant_lease.client import (
    DUT_USER_SIGN,
    AgreementState,
    TradeStatus,
)
from plugins.ant_lease.notices import AgreementNotice, ContractNotice
from ports.channels import (
    ChannelEvent,
    ChannelResult,
    ChannelStatus,
    Exchange,
    NotificationRejected,
    SigningResult,
)
from ports.lease import (
    LeaseAnswer,
    LeaseEventKind,
)

TRADE_STATUS_MAP: dict[TradeStatus, ChannelStatus] = {
    TradeStatus.TRADE_SUCCESS: ChannelStatus.SUCCEEDED,
    TradeStatus.TRADE_FINISHED: ChannelStatus.SUCCEEDED,
    TradeStatus.WAIT_BUYER_PAY: ChannelStatus.PROCESSING,
    TradeStatus.TRADE_CLOSED: ChannelStatus.FAILED,  # closed unpaid
}
NOT_SIGNED = frozenset({"USER_AGREEMENT_NOT_EXIST", "AGREEMENT_NOT_EXIST"})
CONTRACT_STATUS_MAP = {
    "SIGNED": ChannelStatus.SUCCEEDED,
    "SEALED": ChannelStatus.SUCCEEDED,
    "SIGNING": ChannelStatus.PROCESSING,
    "REFUSED": ChannelStatus.FAILED,
    "EXPIRED": ChannelStatus.FAILED,
}


def trade_result(
    raw_status: str | None, trade_no: str | None, source: str, exchanges: tuple[Exchange, ...] = ()
) -> ChannelResult:
    """A trade's status as a ChannelResult; a status we do not know is unknown, never failed."""
    status = TradeStatus.parse(raw_status)
    return mapped_result(
        TRADE_STATUS_MAP.get(status) if status else None,
        ref=trade_no,
        raw_status=raw_status,
        source=source,
        failure_message="the trade was closed unpaid",
        exchanges=exchanges,
    )


def agreement_event(notice: AgreementNotice) -> ChannelEvent:
    signed = notice.notify_type == DUT_USER_SIGN
    if signed and notice.status is not AgreementState.NORMAL:
        raise NotificationRejected(f"dut_user_sign with status {notice.status!r}")
    kind = LeaseEventKind.AGREEMENT_SIGNED if signed else LeaseEventKind.AGREEMENT_UNSIGNED
    fields = notice.fields
    return ChannelEvent(
        kind.value,
        {
            "agreement_no": notice.agreement_no,
            "external_agreement_no": notice.external_agreement_no,
            "alipay_user_id": notice.alipay_user_id,
            "sign_time": fields.get("sign_time"),
            "unsign_time": fields.get("unsign_time"),
            "notify_id": fields.get("notify_id"),
        },
    )


def contract_event(notice: ContractNotice) -> ChannelEvent:
    return ChannelEvent(
        LeaseEventKind.CONTRACT_SIGNATURE.value,
        {
            "order_id": notice.out_order_id,
            "channel_order_id": notice.order_id,
            "contract_no": notice.contract_no,
            "party": notice.party,
            "status": notice.status.value.lower(),
        },
    )


def agreement_signing_result(answer: LeaseAnswer) -> SigningResult:
    """alipay.user.agreement.query: NORMAL is signed; TEMP or no agreement yet is still
    signing; STOP / UNSIGN is failed; an unknown answer stays unknown."""
    if answer.status is ChannelStatus.UNKNOWN:
        return SigningResult(
            ChannelStatus.UNKNOWN, code=answer.code, message=answer.message, exchanges=answer.exchanges
        )
    if answer.status is ChannelStatus.FAILED:
        if answer.code in NOT_SIGNED:
            return SigningResult(
                ChannelStatus.PROCESSING,
                code="NOT_SIGNED",
                message=answer.message,
                exchanges=answer.exchanges,
            )
        return SigningResult(
            ChannelStatus.FAILED, code=answer.code, message=answer.message, exchanges=answer.exchanges
        )
    data = answer.data
    state = AgreementState.parse(str(data.get("status") or ""))
    raw = {k: data.get(k) for k in ("status", "sign_time", "valid_time", "invalid_time", "principal_id")}
    if state is AgreementState.NORMAL and data.get("agreement_no"):
        return SigningResult(
            ChannelStatus.SUCCEEDED,
            agreement_ref=str(data["agreement_no"]),
            raw=raw,
            exchanges=answer.exchanges,
        )
    if state is AgreementState.TEMP:
        return SigningResult(ChannelStatus.PROCESSING, code="TEMP", raw=raw, exchanges=answer.exchanges)
    if state in (AgreementState.STOP, AgreementState.UNSIGN):
        return SigningResult(
            ChannelStatus.FAILED,
            agreement_ref=data.get("agreement_no"),
            code=state.value,
            raw=raw,
            exchanges=answer.exchanges,
        )
    return SigningResult(
        ChannelStatus.UNKNOWN, code="UNRECOGNISED_STATUS", raw=raw, exchanges=answer.exchanges
    )


def contract_signing_result(answer: LeaseAnswer, biz_no: str | None) -> SigningResult:
    """The contract signing `biz_no` as order.query's ec_sign_apply_infos shows it."""
    if answer.status is not ChannelStatus.SUCCEEDED:
        return SigningResult(
            answer.status, code=answer.code, message=answer.message, exchanges=answer.exchanges
        )
    infos = answer.data.get("ec_sign_apply_infos") or ()
    info = next(
        (i for i in infos if isinstance(i, Mapping) and (biz_no is None or i.get("biz_no") == biz_no)), None
    )
    if info is None:
        return SigningResult(ChannelStatus.FAILED, code="NO_CONTRACT", exchanges=answer.exchanges)
    raw_status = str(info.get("status") or "")
    status = CONTRACT_STATUS_MAP.get(raw_status, ChannelStatus.UNKNOWN)
    return SigningResult(
        status,
        agreement_ref=info.get("biz_no"),
        raw=dict(info),
        code=raw_status if status is not ChannelStatus.SUCCEEDED else None,
        exchanges=answer.exchanges,
    )

"""The notifications of the Ant Lease channel, parsed: a deduction's trade_status_sync, the
withholding agreement's dut_user_sign / dut_user_unsign, and the contract-signing message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from plugins.alipay_openapi.errors import NotifyVerificationError
from plugins.alipay_openapi.notify import VerifiedNotification
from plugins.ant_lease.client import (
    CONTRACT_SIGN_NOTIFY,
    DUT_USER_SIGN,
    DUT_USER_UNSIGN,
    TRADE_STATUS_SYNC,
    AgreementState,
    SignatureStatus,
    TradeStatus,
)


def _text(source: Mapping[str, Any], name: str) -> str | None:
    value = source.get(name)
    return None if value is None or value == "" else str(value)


@dataclass(frozen=True, slots=True)
class TradeNotice:
    """A verified trade_status_sync about one deduction."""

    out_trade_no: str
    trade_no: str | None
    status: TradeStatus | None
    raw_status: str | None
    total_amount: str | None
    notify_id: str | None


@dataclass(frozen=True, slots=True)
class AgreementNotice:
    """A verified dut_user_sign / dut_user_unsign."""

    notify_type: str
    agreement_no: str
    external_agreement_no: str | None
    status: AgreementState | None
    alipay_user_id: str | None
    fields: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True, slots=True)
class ContractNotice:
    """A verified contract-signing message: one party signed, refused, or let it expire."""

    out_order_id: str
    order_id: str | None
    contract_no: str
    party: str
    status: SignatureStatus
    biz_content: Mapping[str, Any] = field(repr=False)


LeaseNotice = TradeNotice | AgreementNotice | ContractNotice


def parse_notice(notification: VerifiedNotification) -> LeaseNotice:
    """What a verified notification says. Raises NotifyVerificationError for a kind this
    channel does not take or one missing its key fields: it must change nothing."""
    kind = notification.notify_type
    if kind == TRADE_STATUS_SYNC:
        out_trade_no = notification.get("out_trade_no")
        if out_trade_no is None:
            raise NotifyVerificationError("trade_status_sync carries no out_trade_no")
        raw = notification.get("trade_status")
        return TradeNotice(
            out_trade_no,
            notification.get("trade_no"),
            TradeStatus.parse(raw),
            raw,
            notification.get("total_amount"),
            notification.notify_id,
        )
    if kind in (DUT_USER_SIGN, DUT_USER_UNSIGN):
        agreement_no = notification.get("agreement_no")
        if agreement_no is None:
            raise NotifyVerificationError(f"{kind} carries no agreement_no")
        return AgreementNotice(
            kind,
            agreement_no,
            notification.get("external_agreement_no"),
            AgreementState.parse(notification.get("status")),
            notification.get("alipay_user_id"),
            notification.fields,
        )
    if notification.msg_method == CONTRACT_SIGN_NOTIFY:
        biz = notification.biz_content or {}
        out_order_id, contract_no, party = (_text(biz, n) for n in ("out_order_id", "contract_no", "party"))
        raw_status = _text(biz, "sign_status")
        status = SignatureStatus(raw_status) if raw_status in set(SignatureStatus) else None
        if out_order_id is None or contract_no is None or party is None or status is None:
            raise NotifyVerificationError("contract notification lacks order, contract, party or status")
        return ContractNotice(
            out_order_id, _text(biz, "order_id"), contract_no, party, status, MappingProxyType(dict(biz))
        )
    raise NotifyVerificationError(
        f"notification {kind or notification.msg_method!r} is not one the Ant Lease channel takes"
    )

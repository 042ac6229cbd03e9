"""The alipay.fund.trans.order.changed message: what a verified notification says about a transfer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from plugins.alipay_openapi.errors import MalformedResponseError, NotifyVerificationError
from plugins.alipay_openapi.notify import VerifiedNotification
from plugins.alipay_payout.client import (
    ORDER_CHANGED_METHOD,
    TransferStatus,
    parse_answer_amount,
    parse_answer_time,
    text_field,
)


@dataclass(frozen=True, slots=True)
class OrderChanged:
    """A verified `alipay.fund.trans.order.changed` message about one transfer."""

    out_biz_no: str
    status: TransferStatus | None
    raw_status: str | None
    order_id: str | None
    pay_fund_order_id: str | None
    trans_amount: Decimal | None
    pay_date: datetime | None
    error_code: str | None
    fail_reason: str | None
    product_code: str | None
    biz_scene: str | None
    action_type: str | None
    notify_id: str | None
    biz_content: Mapping[str, Any] = field(repr=False)


def parse_order_changed(notification: VerifiedNotification) -> OrderChanged:
    """The transfer change carried by a verified message notification.

    Raises `NotifyVerificationError` when the notification is another message or lacks the
    transfer's out_biz_no: such a notification must change nothing.
    """
    if notification.msg_method != ORDER_CHANGED_METHOD:
        raise NotifyVerificationError(
            f"expected msg_method {ORDER_CHANGED_METHOD}, got {notification.msg_method!r}"
        )
    biz = notification.biz_content
    if biz is None:
        raise NotifyVerificationError("order.changed message carries no biz_content")
    out_biz_no = text_field(biz, "out_biz_no")
    if out_biz_no is None:
        raise NotifyVerificationError("order.changed message carries no out_biz_no")
    raw_status = text_field(biz, "status")
    try:
        trans_amount = parse_answer_amount(biz.get("trans_amount"), "trans_amount")
    except MalformedResponseError as exc:
        raise NotifyVerificationError(str(exc)) from exc
    return OrderChanged(
        out_biz_no=out_biz_no,
        status=TransferStatus.parse(raw_status),
        raw_status=raw_status,
        order_id=text_field(biz, "order_id"),
        pay_fund_order_id=text_field(biz, "pay_fund_order_id"),
        trans_amount=trans_amount,
        pay_date=parse_answer_time(biz.get("pay_date")),
        error_code=text_field(biz, "error_code"),
        fail_reason=text_field(biz, "fail_reason"),
        product_code=text_field(biz, "product_code"),
        biz_scene=text_field(biz, "biz_scene"),
        action_type=text_field(biz, "action_type"),
        notify_id=notification.notify_id,
        biz_content=MappingProxyType(dict(biz)),
    )

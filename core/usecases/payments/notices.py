"""A verified channel notice checked against the payment it names, before it may move it.

A notice verified with one channel's key speaks only for that channel's payments, and only when
what it says about the payment (amount, currency, payee) is what the platform stored."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from core.payments.model import Payment
from ports.channels import ChannelNotification


class NoticeRefusal(enum.StrEnum):
    """Why a verified notice was not applied (the `reason` label of the refusals metric)."""

    UNKNOWN_PAYMENT = "unknown_payment"
    OTHER_CHANNEL = "other_channel"
    CURRENCY = "currency_mismatch"
    AMOUNT = "amount_mismatch"
    PAYEE = "payee_mismatch"


@dataclass(frozen=True, slots=True)
class NoticeOutcome:
    """What became of a verified notice: applied to `payment`, or refused for `refusal`."""

    payment: Payment | None
    refusal: NoticeRefusal | None = None
    detail: str = ""

    @property
    def applied(self) -> bool:
        return self.refusal is None


def notice_mismatch(
    channel: str, notice: ChannelNotification, payment: Payment
) -> tuple[NoticeRefusal, str] | None:
    """Why `notice`, verified for `channel`, may not move `payment`; None when it may."""
    if payment.channel != channel:
        return (
            NoticeRefusal.OTHER_CHANNEL,
            f"payment belongs to channel {payment.channel}, notice came from {channel}",
        )
    if notice.amount is not None:
        if notice.amount.currency != payment.amount.currency:
            return (
                NoticeRefusal.CURRENCY,
                f"notice says {notice.amount.currency}, payment is {payment.amount.currency}",
            )
        if notice.amount != payment.amount:
            return NoticeRefusal.AMOUNT, f"notice says {notice.amount}, payment is {payment.amount}"
    if (
        notice.payee is not None
        and payment.payee_account is not None
        and notice.payee != payment.payee_account
    ):
        return NoticeRefusal.PAYEE, f"notice names payee {notice.payee}, payment pays {payment.payee_account}"
    return None

"""Specification of `notice_mismatch` (core.usecases.payments.notices): a verified notice may move
only a payment of its own channel whose amount, currency and payee it does not contradict."""

from __future__ import annotations

from datetime import UTC, datetime

from core.money import Money
from core.payments.model import Payment, PaymentStatus
from core.usecases.payments.notices import NoticeRefusal, notice_mismatch
from ports.channels import ChannelNotification, ChannelResult, ChannelStatus

AT = datetime(2026, 12, 4, tzinfo=UTC)
PAID = ChannelResult(ChannelStatus.SUCCEEDED)


def payment(channel: str = "alipay_payout", amount: str = "1.00", payee: str | None = "zhangsan") -> Payment:
    return Payment(
        "pay_1", "shop", "r-1", "h", "alipay", channel, Money.parse(amount, "CNY"), None, payee,
        PaymentStatus.PROCESSING, AT, AT,
    )  # fmt: skip


def notice(amount: Money | None = None, payee: str | None = None) -> ChannelNotification:
    return ChannelNotification("pay_1", PAID, amount=amount, payee=payee)


def reason(channel: str, n: ChannelNotification, p: Payment) -> NoticeRefusal | None:
    found = notice_mismatch(channel, n, p)
    return None if found is None else found[0]


def test_a_notice_that_states_nothing_more_moves_a_payment_of_its_channel() -> None:
    assert reason("alipay_payout", notice(), payment()) is None
    assert reason("alipay_payout", notice(Money.parse("1.00", "CNY"), "zhangsan"), payment()) is None


def test_the_channel_is_checked_first() -> None:
    assert reason("ant_lease", notice(Money.parse("1.00", "CNY")), payment()) is NoticeRefusal.OTHER_CHANNEL


def test_amount_currency_and_payee_must_be_the_payments() -> None:
    assert reason("alipay_payout", notice(Money.parse("999.00", "CNY")), payment()) is NoticeRefusal.AMOUNT
    assert reason("alipay_payout", notice(Money.parse("1.00", "USD")), payment()) is NoticeRefusal.CURRENCY
    assert reason("alipay_payout", notice(payee="lisi"), payment()) is NoticeRefusal.PAYEE
    assert reason("alipay_payout", notice(payee="lisi"), payment(payee=None)) is None, "nothing to compare"

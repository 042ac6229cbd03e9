"""Payouts and payout payments as the payout tests start from them."""

from __future__ import annotations

from dataclasses import replace

from fakes.workflows import PAYOUT_TIME, PayoutWorld

from core.money import Money
from core.payments.model import Payment, PaymentStatus
from core.payouts.checks import check_item
from core.payouts.model import Payout, PayoutApplication, PayoutStatus, payment_out_request_no


def application(serial_no: str = "S-1") -> PayoutApplication:
    checked = check_item(
        {
            "serial_no": serial_no,
            "order_serial_no": "O-1",
            "payee_account": "zhangsan@example.com",
            "amount": "12.30",
            "ext": {"type": 2, "pay_method": 1, "reason": "flight cancelled", "payee_name": "张三"},
        }
    )
    assert isinstance(checked, PayoutApplication), checked
    return checked


def stored_payout(w: PayoutWorld, status: PayoutStatus = PayoutStatus.PENDING_REVIEW) -> Payout:
    a = application()
    payout = Payout("pyt_1", "app_1", a, a.fingerprint(), status, PAYOUT_TIME, PAYOUT_TIME)
    w.storage.state.payouts[payout.id] = payout
    return payout


def payment_of(payout_id: str, status: PaymentStatus, **changes: object) -> Payment:
    base = Payment(
        id="pay_1",
        app_id="app_1",
        out_request_no=payment_out_request_no(payout_id),
        request_hash="h",
        pay_method="alipay",
        channel="alipay_payout",
        amount=Money(1230, "CNY"),
        payer_account=None,
        payee_account="zhangsan@example.com",
        status=status,
        created_at=PAYOUT_TIME,
        updated_at=PAYOUT_TIME,
        details={"payout_id": payout_id},
    )
    return replace(base, **changes)  # type: ignore[arg-type]

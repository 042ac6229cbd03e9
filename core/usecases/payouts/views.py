"""How a payout is shown to callers and operators: the one place that shapes payout answers."""

from __future__ import annotations

from typing import Any

from core.payouts.model import Payout
from core.payouts.payees import mask_account


def payout_view(p: Payout) -> dict[str, Any]:
    """A payout as callers and operators see it (the payee account masked)."""
    a = p.application
    canonical = a.canonical()
    return {
        "id": p.id,
        "serial_no": a.serial_no,
        "order_serial_no": a.order_serial_no,
        "app_id": p.app_id,
        "source_platform": p.source_platform,
        "trace_id": p.trace_id,
        "status": p.status.value,
        "amount": str(a.amount),
        "currency": a.amount.currency,
        "payee_account": mask_account(a.payee_account),
        "payee_name": a.payee_name,
        "type": int(a.type),
        "type_name": a.type.label,
        "pay_method": a.pay_method.value,
        "pay_back_type": int(a.pay_back_type),
        "reason": a.reason,
        "insurance_merchant": a.insurance_merchant,
        "business_type": a.business_type.value,
        "send_sms": a.send_sms,
        "creator": a.creator,
        "bank": canonical["bank"],
        "voucher": canonical["voucher"],
        "review": None if p.review is None else p.review.to_json(),
        "payment_id": p.payment_id,
        "channel": p.channel,
        "channel_ref": p.channel_ref,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
        "finished_at": p.finished_at.isoformat() if p.finished_at else None,
    }

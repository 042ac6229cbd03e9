"""The one place that shapes a payment into an answer (HTTP responses and webhook payloads)."""

from __future__ import annotations

from typing import Any

from core.cards import mask_card_no
from core.ledger import is_ledger_account_id
from core.payments.model import Payment
from core.payouts.payees import mask_account


def payment_view(p: Payment) -> dict[str, Any]:
    # bank card numbers (a bill's bank attempts) are shown with their last four digits only
    shown = mask_card_no if p.details.get("mask_accounts") else shown_account
    return {
        "id": p.id,
        "out_request_no": p.out_request_no,
        "status": p.status.value,
        "pay_method": p.pay_method,
        "channel": p.channel,
        "amount": str(p.amount),
        "currency": p.amount.currency,
        "payer_account": shown(p.payer_account),
        "payee_account": shown(p.payee_account),
        "business_type": p.business_type,
        "memo": p.memo,
        "channel_ref": p.channel_ref,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
    }


def shown_account(account: str | None) -> str | None:
    """An account of a payment as answers, webhooks and pages show it: a ledger account's id as it
    is, any other (a payout's Alipay logon id or card number, a bank account number) masked, as
    the payout view shows its payee."""
    if account is None or is_ledger_account_id(account):
        return account
    return mask_account(account)


def ops_payment_view(p: Payment, escalated: bool) -> dict[str, Any]:
    """A payment as an operator's list shows it: its app, and whether its outcome was escalated."""
    return {**payment_view(p), "app_id": p.app_id, "escalated": escalated}

"""Row mapping shared by both units of work: entities to table rows and back, and the row
builders of every insert on the payment path (so both write the same values)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.errors import DomainError, InsufficientFunds, NotFound
from core.flowlog import FlowRecord
from core.ledger import (
    AccountKind,
    AccountStatus,
    AccountView,
    FlowKind,
    NewAccount,
    Posting,
    SubAccount,
    balance_limit_refusal,
    within_limit,
)
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from gateway.storage import card_vault
from ports.channels import DeferredPostings, Exchange

# longer than any channel call may take (calls time out well before)
CREATED_GRACE = timedelta(minutes=2)


def payment_from_mapping(m: Mapping[Any, Any]) -> Payment:
    return Payment(
        id=m["id"],
        app_id=m["app_id"],
        out_request_no=m["out_request_no"],
        request_hash=m["request_hash"],
        pay_method=m["pay_method"],
        channel=m["channel"],
        amount=Money(m["amount_minor"], m["currency"]),
        payer_account=m["payer_account"],
        payee_account=m["payee_account"],
        status=PaymentStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        business_type=m["business_type"],
        memo=m["memo"],
        channel_ref=m["channel_ref"],
        failure_code=m["failure_code"],
        failure_message=m["failure_message"],
        details=dict(m["details"] or {}),
    )


def payment_values(p: Payment) -> dict[str, Any]:
    return {
        "id": p.id,
        "app_id": p.app_id,
        "out_request_no": p.out_request_no,
        "request_hash": p.request_hash,
        "pay_method": p.pay_method,
        "channel": p.channel,
        "amount_minor": p.amount.minor,
        "currency": p.amount.currency,
        "payer_account": p.payer_account,
        "payee_account": p.payee_account,
        "business_type": p.business_type,
        "memo": p.memo,
        "status": p.status.value,
        "channel_ref": p.channel_ref,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "details": p.details,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def new_payment_row(payment: Payment, schedule: dict[str, Any]) -> dict[str, Any]:
    """A new payment's row, with its query schedule."""
    values = payment_values(payment)
    if payment.status is PaymentStatus.CREATED:
        # If the process dies between saving and the channel's answer, the poller finds the
        # payment here and asks the channel, instead of it staying `created` forever.
        values["next_query_at"] = payment.created_at + CREATED_GRACE
    values.update(schedule)
    return values


def payment_changes(payment: Payment, schedule: dict[str, Any]) -> dict[str, Any]:
    """What saving a payment updates: all but what never changes after the insert."""
    values = payment_values(payment)
    for key in ("id", "app_id", "out_request_no", "request_hash", "created_at"):
        values.pop(key)
    values.update(schedule)
    return values


def row_to_account(row: sa.Row[Any]) -> AccountView:
    return account_from_mapping(row._mapping)


def account_from_mapping(m: Mapping[Any, Any]) -> AccountView:
    return AccountView(
        id=m["id"],
        owner=m["owner"],
        kind=AccountKind(m["kind"]),
        currency=m["currency"],
        status=AccountStatus(m["status"]),
        allow_overdraft=m["allow_overdraft"],
    )


def account_row(account: NewAccount, at: datetime) -> dict[str, Any]:
    view, card = account.view, account.bank_card
    return {
        "id": view.id,
        "app_id": account.app_id,
        "owner": view.owner,
        "kind": view.kind.value,
        "currency": view.currency,
        "status": view.status.value,
        "allow_overdraft": view.allow_overdraft,
        "available_minor": 0,
        "pending_minor": 0,
        "created_at": at,
        "card_no": card.card_no if card else None,
        "card_no_hash": card_vault.current().lookup_hash(card.card_no) if card else None,
        "card_name": card.name if card else None,
        "card_bank_name": card.bank_name if card else None,
        "card_bank_no": card.bank_no if card else None,
    }


def postings_to_json(postings: Sequence[Posting]) -> list[dict[str, Any]]:
    return [
        {
            "account_id": p.account_id,
            "amount_minor": p.amount.minor,
            "currency": p.amount.currency,
            "kind": p.kind.value,
            "sub_account": p.sub_account.value,
            "memo": p.memo,
        }
        for p in postings
    ]


def postings_from_json(items: Sequence[dict[str, Any]]) -> tuple[Posting, ...]:
    return tuple(
        Posting(
            i["account_id"],
            Money(i["amount_minor"], i["currency"]),
            FlowKind(i["kind"]),
            SubAccount(i["sub_account"]),
            i.get("memo", ""),
        )
        for i in items
    )


def entry_rows(
    txn_id: str, postings: Sequence[Posting], balance_before: dict[tuple[str, SubAccount], int], at: datetime
) -> list[dict[str, Any]]:
    """The ledger entries of a transaction, each with its account's balance after it."""
    running = dict(balance_before)
    rows = []
    for p in postings:
        key = (p.account_id, p.sub_account)
        running[key] += p.amount.minor
        rows.append(
            {
                "txn_id": txn_id,
                "account_id": p.account_id,
                "sub_account": p.sub_account.value,
                "amount_minor": p.amount.minor,
                "currency": p.amount.currency,
                "kind": p.kind.value,
                "balance_after_minor": running[key],
                "memo": p.memo[:256],
                "created_at": at,
            }
        )
    return rows


def outbox_row(
    event_id: str, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return {
        "id": event_id,
        "app_id": app_id,
        "event_type": event_type,
        "subject_id": subject_id,
        "payload": {"event_id": event_id, "event_type": event_type, **payload},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


def transfer_row(payment: Payment, txn_id: str, at: datetime) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "ledger_txn_id": txn_id,
        "payer_account": payment.payer_account,
        "payee_account": payment.payee_account,
        "amount_minor": payment.amount.minor,
        "currency": payment.amount.currency,
        "created_at": at,
    }


def exchange_rows(
    payment_id: str, channel: str, exchanges: Sequence[Exchange], at: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "subject_id": payment_id,
            "channel": channel,
            "operation": e.operation,
            "request": e.request,
            "response": e.response,
            "error": e.error[:512] if e.error else None,
            "at": at,
        }
        for e in exchanges
    ]


def deferred_rows(
    payment_id: str, deferred: Sequence[DeferredPostings], at: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "payment_id": payment_id,
            "seq": d.order,
            "kind": d.kind,
            "postings": postings_to_json(d.postings),
            "status": "pending",
            "attempts": 0,
            "due_at": at,
        }
        for d in deferred
    ]


def flow_rows(records: Sequence[FlowRecord]) -> list[dict[str, Any]]:
    return [
        {
            "subject_id": r.subject_id,
            "node": r.node.value,
            "outcome": r.outcome.value,
            "message": r.message[:512],
            "detail": r.detail,
            "actor": r.actor,
            "at": r.at,
        }
        for r in records
    ]


def net_changes(postings: Sequence[Posting]) -> tuple[dict[tuple[str, SubAccount], int], dict[str, str]]:
    """Each (account, sub-account)'s net change in minor units, and each account's currency."""
    net: dict[tuple[str, SubAccount], int] = defaultdict(int)
    currency_of: dict[str, str] = {}
    for p in postings:
        net[(p.account_id, p.sub_account)] += p.amount.minor
        currency_of[p.account_id] = p.amount.currency
    return net, currency_of


def posting_refusal(
    account_id: str, stored_currency: str | None, currency: str, *, beyond_limit: bool = False
) -> DomainError:
    """Why `account_id` could not take its change in `currency`, given the currency it is stored
    with (None: no such account) and whether the change takes a balance beyond its limit
    (`beyond_limit`, core/ledger.py `balance_limit`): missing, another currency, beyond the
    limit, or (what remains) not enough funds."""
    if stored_currency is None:
        return NotFound(f"account {account_id} does not exist", code="ACCOUNT_NOT_FOUND")
    if stored_currency != currency:
        return NotFound(
            f"account {account_id} holds {stored_currency}, not {currency}", code="ACCOUNT_CURRENCY_MISMATCH"
        )
    if beyond_limit:
        return balance_limit_refusal(account_id)
    return InsufficientFunds(
        f"account {account_id} has insufficient funds for this payment", field="payer_account"
    )


def beyond_limit(
    balances: Mapping[SubAccount, int], changes: Mapping[SubAccount, int], currency: str
) -> bool:
    """Whether `changes` take one of an account's `balances` beyond its currency's limit."""
    return any(not within_limit(balances[sub] + change, currency) for sub, change in changes.items())


def stored_refusal(
    account_id: str, stored: Sequence[Any] | None, currency: str, changes: Mapping[SubAccount, int]
) -> DomainError:
    """`posting_refusal` from the account's stored (currency, available, pending), read after its
    conditional update matched no row (None: no such account)."""
    if stored is None:
        return posting_refusal(account_id, None, currency)
    stored_currency, available, pending = stored
    balances = {SubAccount.AVAILABLE: available, SubAccount.PENDING: pending}
    beyond = stored_currency == currency and beyond_limit(balances, changes, currency)
    return posting_refusal(account_id, stored_currency, currency, beyond_limit=beyond)

"""Every event the gateway sends an app (webhooks through the outbox): its meaning and payload.

A webhook body is the envelope `{"event_id", "event_type", **payload}`. docs/API.md lists these
events in its webhook table, row for row as `EventType.doc_row` renders them (a test checks it,
and that no other event type is queued anywhere).
"""

from __future__ import annotations

import enum

from core.payments.model import PaymentStatus
from core.payouts.model import PayoutStatus


class EventType(enum.StrEnum):
    """An outbox event type: `<workflow>.<what happened>`."""

    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    BILL_COMPLETED = "bill.completed"
    BILL_FAILED = "bill.failed"
    PAYOUT_SUCCEEDED = "payout.succeeded"
    PAYOUT_FAILED = "payout.failed"
    PAYOUT_REJECTED = "payout.rejected"
    PAYOUT_RETURNED = "payout.returned"
    LEASE_CONTRACT_SIGNED = "lease.contract_signed"
    LEASE_CONTRACT_SIGN_FAILED = "lease.contract_sign_failed"
    LEASE_CONTRACT_FINALISED = "lease.contract_finalised"
    LEASE_AGREEMENT_SIGNED = "lease.agreement_signed"
    LEASE_AGREEMENT_UNSIGNED = "lease.agreement_unsigned"
    LEASE_PLAN_CANCELLED = "lease.plan_cancelled"
    LEASE_PERIOD_PAID = "lease.period_paid"
    LEASE_PERIOD_FAILED = "lease.period_failed"
    LEASE_ORDER_CLOSED = "lease.order_closed"

    @property
    def meaning(self) -> str:
        """What happened, in one line."""
        return _ABOUT[self][0]

    @property
    def payload(self) -> str:
        """The payload's keys (besides the envelope's) and the outbox subject."""
        return _ABOUT[self][1]

    @property
    def doc_row(self) -> str:
        """The event's row in docs/API.md's webhook table."""
        return f"| `{self.value}` | {self.meaning} | {self.payload} |"


_PAYMENT = '`{"payment": {...}}`; subject: the payment id'
_BILL = '`{"bill": {...}}`; subject: the bill id'
_PAYOUT = '`{"serial_no", "status", "succeeded", "message", "payout": {...}}`; subject: the serial_no'
_LEASE = '`{"order": {...}}`; subject: the order id'
_PERIOD = '`{"order": {...}, "period": {...}}`; subject: the order id'

_ABOUT: dict[EventType, tuple[str, str]] = {
    EventType.PAYMENT_SUCCEEDED: ("the payment succeeded (final)", _PAYMENT),
    EventType.PAYMENT_FAILED: ("the payment failed (final)", _PAYMENT),
    EventType.BILL_COMPLETED: ("the bill's business processing is done (final)", _BILL),
    EventType.BILL_FAILED: ("the bill stopped at `bank_failed` or `business_failed`", _BILL),
    EventType.PAYOUT_SUCCEEDED: ("the payout was paid (final)", _PAYOUT),
    EventType.PAYOUT_FAILED: ("the payout could not be paid (final)", _PAYOUT),
    EventType.PAYOUT_REJECTED: ("finance refused the payout (final)", _PAYOUT),
    EventType.PAYOUT_RETURNED: (
        "the paid payout came back: the channel returned the money after `payout.succeeded` (final)",
        _PAYOUT,
    ),
    EventType.LEASE_CONTRACT_SIGNED: ("every party signed the contract", _LEASE),
    EventType.LEASE_CONTRACT_SIGN_FAILED: ("the contract signing was refused or expired", _LEASE),
    EventType.LEASE_CONTRACT_FINALISED: ("the signed contract is finalised", _LEASE),
    EventType.LEASE_AGREEMENT_SIGNED: ("the withholding agreement is signed", _LEASE),
    EventType.LEASE_AGREEMENT_UNSIGNED: ("the withholding agreement was ended", _LEASE),
    EventType.LEASE_PLAN_CANCELLED: ("the rent plan was cancelled", _LEASE),
    EventType.LEASE_PERIOD_PAID: ("a rent period was collected", _PERIOD),
    EventType.LEASE_PERIOD_FAILED: ("an attempt at a rent period failed", _PERIOD),
    EventType.LEASE_ORDER_CLOSED: ("the lease order was closed", _LEASE),
}

PAYMENT_EVENT_OF_STATUS = {
    PaymentStatus.SUCCEEDED: EventType.PAYMENT_SUCCEEDED,
    PaymentStatus.FAILED: EventType.PAYMENT_FAILED,
}
"""A final payment status's event."""

PAYOUT_EVENT_OF_STATUS = {
    PayoutStatus.SUCCEEDED: EventType.PAYOUT_SUCCEEDED,
    PayoutStatus.FAILED: EventType.PAYOUT_FAILED,
    PayoutStatus.REJECTED: EventType.PAYOUT_REJECTED,
    PayoutStatus.RETURNED: EventType.PAYOUT_RETURNED,
}
"""A final payout status's event."""


def webhook_table() -> str:
    """docs/API.md's webhook table, one row per event type."""
    head = "| Event | Meaning | Payload |\n|---|---|---|"
    return "\n".join([head, *(event.doc_row for event in EventType)])

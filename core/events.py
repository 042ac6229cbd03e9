"""Every event the gateway sends an app (webhooks through the outbox), with what it means.

Each webhook body is the envelope `{"event_id", "event_type", ...payload}`; the payload's keys are
named below for each event. docs/API.md documents each of these types (a test checks that it
does, and that no other event type is queued anywhere).
"""

from __future__ import annotations

import enum

from core.payments.model import PaymentStatus
from core.payouts.model import PayoutStatus


class EventType(enum.StrEnum):
    """An outbox event type: `<workflow>.<what happened>`."""

    # payments: payload {"payment": payment view}; subject the payment id
    PAYMENT_SUCCEEDED = "payment.succeeded"  # the payment succeeded (final)
    PAYMENT_FAILED = "payment.failed"  # the payment failed (final)

    # bills: payload {"bill": bill view}; subject the bill id
    BILL_COMPLETED = "bill.completed"  # the bill's business transfer is done (final)
    BILL_FAILED = "bill.failed"  # the bill stopped at bank_failed or business_failed

    # payouts: payload {"serial_no", "status", "succeeded", "message", "payout": payout view};
    # subject the caller's serial number
    PAYOUT_SUCCEEDED = "payout.succeeded"  # the payout was paid (final)
    PAYOUT_FAILED = "payout.failed"  # the payout was not paid (final)
    PAYOUT_REJECTED = "payout.rejected"  # finance refused the payout (final)

    # lease: payload {"order": lease order view}, plus "period" for period events;
    # subject the order id
    LEASE_CONTRACT_SIGNED = "lease.contract_signed"  # every party signed the contract
    LEASE_CONTRACT_SIGN_FAILED = "lease.contract_sign_failed"  # signing refused or expired
    LEASE_CONTRACT_FINALISED = "lease.contract_finalised"  # the signed contract is filed
    LEASE_AGREEMENT_SIGNED = "lease.agreement_signed"  # the withholding agreement is signed
    LEASE_AGREEMENT_UNSIGNED = "lease.agreement_unsigned"  # the withholding agreement ended
    LEASE_PLAN_CANCELLED = "lease.plan_cancelled"  # the rent plan was cancelled
    LEASE_PERIOD_PAID = "lease.period_paid"  # a rent period was collected
    LEASE_PERIOD_FAILED = "lease.period_failed"  # an attempt at a rent period failed
    LEASE_ORDER_CLOSED = "lease.order_closed"  # the lease order was closed


PAYMENT_EVENT_OF_STATUS = {
    PaymentStatus.SUCCEEDED: EventType.PAYMENT_SUCCEEDED,
    PaymentStatus.FAILED: EventType.PAYMENT_FAILED,
}
"""A final payment status's event."""

PAYOUT_EVENT_OF_STATUS = {
    PayoutStatus.SUCCEEDED: EventType.PAYOUT_SUCCEEDED,
    PayoutStatus.FAILED: EventType.PAYOUT_FAILED,
    PayoutStatus.REJECTED: EventType.PAYOUT_REJECTED,
}
"""A final payout status's event."""

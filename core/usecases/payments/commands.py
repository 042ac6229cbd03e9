"""What the payment use cases take: the payment command, the query schedule, the listener type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.money import Money
from core.payments.model import Payment, PaymentStatus
from ports.channels import ChannelStatus

STATUS_FROM_CHANNEL = {
    ChannelStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ChannelStatus.FAILED: PaymentStatus.FAILED,
    ChannelStatus.PROCESSING: PaymentStatus.PROCESSING,
    ChannelStatus.UNKNOWN: PaymentStatus.UNKNOWN,
}


# Called inside the transaction that moves a payment, with the moved payment: workflows built on
# payments (payouts, bills) update their own records atomically with the payment's state.
PaymentListener = Callable[[Any, Payment], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PaymentCommand:
    app_id: str
    out_request_no: str
    request_hash: str
    pay_method: str
    amount: Money
    payer_account: str | None
    payee_account: str | None
    channel: str | None = None
    business_type: str | None = None
    memo: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    # accounts of the platform's ledger that this payment names (checked for ownership)
    ledger_accounts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuerySchedule:
    """Seconds to wait before each query of a processing/unknown payment, then escalate."""

    steps: tuple[int, ...]
    after_escalation: int

    def next_delay(self, attempts: int) -> tuple[int, bool]:
        """(delay, escalate_now) for the query following `attempts` earlier ones."""
        if attempts < len(self.steps):
            return self.steps[attempts], False
        return self.after_escalation, attempts == len(self.steps)


def request_accounts(*ids: str | None, extra: Sequence[str] = ()) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for i in (*ids, *extra):
        if i:
            seen[i] = None
    return tuple(seen)

"""The payment entity, its state machine (created -> processing/unknown -> final), request fingerprints."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.money import Money
from core.state import StateMachine


class PaymentStatus(enum.StrEnum):
    CREATED = "created"  # accepted and saved, not yet answered by the channel
    PROCESSING = "processing"  # the channel accepted it and is still working
    UNKNOWN = "unknown"  # the outcome is not known: resolved only by query, never by a timer
    SUCCEEDED = "succeeded"
    FAILED = "failed"


PAYMENT_STATES: StateMachine[PaymentStatus] = StateMachine(
    "payment",
    {
        PaymentStatus.CREATED: {
            PaymentStatus.PROCESSING,
            PaymentStatus.UNKNOWN,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
        },
        PaymentStatus.PROCESSING: {
            PaymentStatus.UNKNOWN,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
        },
        PaymentStatus.UNKNOWN: {
            PaymentStatus.PROCESSING,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
        },
        PaymentStatus.SUCCEEDED: set(),
        PaymentStatus.FAILED: set(),
    },
)

FINAL_STATUSES = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED})


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment order of a caller app, routed to one channel."""

    id: str
    app_id: str
    out_request_no: str
    request_hash: str
    pay_method: str
    channel: str
    amount: Money
    payer_account: str | None
    payee_account: str | None
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime
    business_type: str | None = None
    memo: str | None = None
    channel_ref: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def moved(self, target: PaymentStatus, at: datetime, **changes: Any) -> Payment:
        """A copy in `target` status; illegal moves raise IllegalTransition."""
        if target == self.status and target not in FINAL_STATUSES:
            return replace(self, updated_at=at, **changes)
        PAYMENT_STATES.move(self.status, target)
        return replace(self, status=target, updated_at=at, **changes)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def request_fingerprint(body: dict[str, Any]) -> str:
    """A stable hash of a request body, so a repeat can be told from a conflicting reuse."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()

"""The settings the payment use cases follow: single-payment limits and query schedules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.errors import BusinessRuleViolation
from core.money import Money


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


@dataclass(frozen=True, slots=True)
class PaymentPolicy:
    """Single-payment limits per currency, and the query schedule per channel (else the default)."""

    max_amounts: Mapping[str, Decimal]
    schedules: Mapping[str, QuerySchedule]
    default_schedule: QuerySchedule

    def schedule_for(self, channel: str) -> QuerySchedule:
        return self.schedules.get(channel, self.default_schedule)

    def check_limit(self, amount: Money) -> Decimal | None:
        """The single-payment limit of the amount's currency (None: no limit); above it, refused."""
        limit = self.max_amounts.get(amount.currency)
        if limit is not None and amount.decimal > limit:
            raise BusinessRuleViolation(
                f"amount {amount} exceeds the single-payment limit {limit} {amount.currency}",
                field="amount",
                code="AMOUNT_LIMIT_EXCEEDED",
            )
        return limit

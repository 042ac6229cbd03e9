"""The settings the payment use cases follow: single-payment limits, the pay methods each caller
app may use directly, and query schedules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.errors import BusinessRuleViolation
from core.money import Money
from core.payments.routing import CALLERS, PayMethodNotAllowed


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
    """Single-payment limits per currency, the query schedule per channel (else the default), and
    per caller app the pay methods it may use directly (an app not named: every one routing opens
    to callers)."""

    max_amounts: Mapping[str, Decimal]
    schedules: Mapping[str, QuerySchedule]
    default_schedule: QuerySchedule
    app_pay_methods: Mapping[str, frozenset[str]] = field(default_factory=dict)

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

    def check_pay_method(self, app_id: str, pay_method: str, submitter: str) -> None:
        """A caller app's direct payment must use one of its `pay_methods` (workflows check their
        own records; routing decides which channels they reach)."""
        allowed = self.app_pay_methods.get(app_id)
        if submitter == CALLERS and allowed is not None and pay_method not in allowed:
            raise PayMethodNotAllowed(
                f"app {app_id} may not pay with {pay_method!r} "
                f"(its pay_methods: {', '.join(sorted(allowed)) or 'none'})",
                field="pay_method",
            )

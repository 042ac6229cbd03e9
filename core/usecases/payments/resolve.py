"""Resolving a processing or unknown payment by querying its channel: apply a final answer, else
query again on the channel's schedule, and escalate to operators when the schedule runs out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.flowlog import FlowNode, FlowOutcome
from core.payments.model import Payment
from core.usecases.payments.channels import ChannelAccess
from core.usecases.payments.policy import PaymentPolicy
from core.usecases.payments.results import PaymentResults
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.trail import PaymentTrail
from ports.channels import ChannelStatus


class PaymentResolution:
    """`resolve`: one query of a payment whose outcome is not final yet (never a timer's guess)."""

    def __init__(
        self,
        storage: PaymentStorage,
        access: ChannelAccess,
        policy: PaymentPolicy,
        trail: PaymentTrail,
        results: PaymentResults,
    ) -> None:
        self.storage = storage
        self.access = access
        self.policy = policy
        self.trail = trail
        self.results = results

    async def resolve(self, payment: Payment, attempts: int) -> Payment:
        """Query the channel about a processing/unknown payment; reschedule or escalate."""
        result = await self.access.query(payment)
        if result.status in (ChannelStatus.SUCCEEDED, ChannelStatus.FAILED, ChannelStatus.RETURNED):
            return await self.results.apply_result(payment.id, result, via="query")
        self.trail.result(payment, result, via="query")
        delay, escalate = self.policy.schedule_for(payment.channel).next_delay(attempts + 1)
        now = self.trail.clock()
        async with self.storage.uow() as uow:
            current = await uow.payments.get_for_update(payment.id)
            if current is None or current.is_final:
                return current or payment
            schedule: dict[str, Any] = {
                "next_query_at": now + timedelta(seconds=delay),
                "query_attempts": attempts + 1,
            }
            if escalate:
                schedule["escalated"] = True
            moved = await self.results.apply(uow, current, result, now, schedule=schedule)
            await uow.commit()
        if escalate:
            self.trail.record(
                payment.id,
                FlowNode.ESCALATED,
                FlowOutcome.PENDING,
                "outcome still not final after the query schedule; operators alerted",
                attempts=attempts + 1,
            )
        return moved

"""Resolving a processing or unknown payment by querying its channel: apply a final answer, else
query again on the channel's schedule, and escalate to operators when the schedule runs out. A
payment the channel provably never received (no such order after the request's deadline) is
sent again, with the same id: a channel pays one order per id, so a resend never pays twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.flowlog import FlowNode, FlowOutcome
from core.payments.model import Payment, PaymentStatus
from core.usecases.payments.channels import ChannelAccess
from core.usecases.payments.policy import PaymentPolicy
from core.usecases.payments.results import PaymentResults
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.trail import PaymentTrail
from ports.channels import ChannelResult, ChannelStatus

# how long after a request's deadline (its save + the channel call timeout) a channel that has
# no order under its id proves it never arrived: room for the clocks and the channel's own lag
RESEND_GRACE = timedelta(minutes=2)
# a payment in these states may never have reached its channel (PROCESSING was acknowledged)
MAYBE_UNSENT = (PaymentStatus.CREATED, PaymentStatus.UNKNOWN)


class PaymentResolution:
    """`resolve`: one query of a payment whose outcome is not final yet (never a timer's guess)."""

    def __init__(
        self,
        storage: PaymentStorage,
        access: ChannelAccess,
        policy: PaymentPolicy,
        trail: PaymentTrail,
        results: PaymentResults,
        resend_grace: timedelta = RESEND_GRACE,
    ) -> None:
        self.storage = storage
        self.access = access
        self.policy = policy
        self.trail = trail
        self.results = results
        self.resend_grace = resend_grace

    async def resolve(self, payment: Payment, attempts: int) -> Payment:
        """Query the channel about a processing/unknown payment; reschedule or escalate."""
        result, via = await self.access.query(payment), "query"
        if result.order_not_found and self._never_arrived(payment):
            result, via = await self._resend(payment, result), "resend"
            attempts = 0  # a new request at the channel: its answer gets the whole query schedule
        if result.status in (ChannelStatus.SUCCEEDED, ChannelStatus.FAILED, ChannelStatus.RETURNED):
            return await self.results.apply_result(payment.id, result, via=via)
        self.trail.result(payment, result, via=via)
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

    def _never_arrived(self, payment: Payment) -> bool:
        """Whether a channel without an order under this payment's id proves the request never
        reached it: the request's deadline (saved, plus the call's timeout, plus a grace) has
        passed. Before it, the order may just not be visible yet: the payment stays unknown."""
        deadline = payment.created_at + timedelta(seconds=self.access.timeout) + self.resend_grace
        return payment.status in MAYBE_UNSENT and self.trail.clock() >= deadline

    async def _resend(self, payment: Payment, not_found: ChannelResult) -> ChannelResult:
        """The same request again (same payment id, so the same order number at the channel):
        once per resolution round, never under a new id."""
        channel = self.access.channels.get(payment.channel)
        if channel is None or channel.payment is None:
            return not_found
        self.trail.record(
            payment.id,
            FlowNode.CHANNEL_REQUEST,
            FlowOutcome.PENDING,
            f"{channel.code} has no order {payment.id} after the request's deadline: sent again",
            code=not_found.code,
            resent=True,
        )
        return await self.access.submit(channel, payment)

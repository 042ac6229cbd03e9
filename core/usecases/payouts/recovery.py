"""The payout worker's round: approved payouts get their payment, off the approving request (and
one a crash left without it gets it the same way)."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.flowlog import FlowNode, FlowOutcome
from core.usecases.payouts.context import PayoutContext
from core.usecases.payouts.payment import pay

log = logging.getLogger("paygate.payouts")

# An approval only commits; this round submits the payment, at once. Kept as a setting for tests
# that hold an approved payout back.
RESUME_AFTER = timedelta(0)


class PayoutRecovery:
    """Pays approved payouts that have no payment yet. Idempotent: the payment's out_request_no is
    derived from the payout id, so a payment that exists (another round's) is found, never made
    twice; on PostgreSQL the rounds take turns by the worker's round lease."""

    def __init__(self, ctx: PayoutContext, resume_after: timedelta = RESUME_AFTER) -> None:
        self.ctx = ctx
        self.resume_after = resume_after

    async def run_once(self, limit: int) -> int:
        """Submit the payment of every payout approved (before the grace) with none; the count."""
        self.ctx.to_pay.clear()
        async with self.ctx.reads() as uow:
            unpaid = await uow.payouts.approved_unpaid(self.ctx.clock() - self.resume_after, limit)
        resumed = 0
        for payout in unpaid:
            self.ctx.record(
                payout.id,
                FlowNode.BUSINESS_PROCESSING,
                "approved: submitting its payment",
                FlowOutcome.PENDING,
                actor="payout-worker",
            )
            try:
                await pay(self.ctx, payout)
                resumed += 1
            except Exception:
                log.exception("resuming an approved payout failed", extra={"payout_id": payout.id})
        return resumed

"""The payout worker's round: approved payouts a crash left without their payment get it."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.flowlog import FlowNode, FlowOutcome
from core.usecases.payouts.context import PayoutContext
from core.usecases.payouts.payment import pay

log = logging.getLogger("paygate.payouts")

# An approval submits its payment at once; a payout still approved without one this long after
# was left by a crash between the two (the approval's own submit has long saved its payment).
RESUME_AFTER = timedelta(minutes=1)


class PayoutRecovery:
    """Resumes approved payouts that have no payment: their payment is submitted as approving
    would have. Idempotent: the payment's out_request_no is derived from the payout id, so a
    payment that exists (a concurrent approval's) is found, never made twice."""

    def __init__(self, ctx: PayoutContext, resume_after: timedelta = RESUME_AFTER) -> None:
        self.ctx = ctx
        self.resume_after = resume_after

    async def run_once(self, limit: int) -> int:
        """Submit the payment of every payout approved before the grace with none; the count."""
        async with self.ctx.reads() as uow:
            unpaid = await uow.payouts.approved_unpaid(self.ctx.clock() - self.resume_after, limit)
        resumed = 0
        for payout in unpaid:
            self.ctx.record(
                payout.id,
                FlowNode.BUSINESS_PROCESSING,
                "approved without a payment: submitting it",
                FlowOutcome.PENDING,
                actor="payout-worker",
            )
            try:
                await pay(self.ctx, payout)
                resumed += 1
            except Exception:
                log.exception("resuming an approved payout failed", extra={"payout_id": payout.id})
        return resumed

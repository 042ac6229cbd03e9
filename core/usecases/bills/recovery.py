"""The bill worker's round: what a crash or the listener left due, restart-safe."""

from __future__ import annotations

import logging

from core.usecases.bills.bank import BillBank
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.context import BillContext
from core.usecases.bills.listener import DueBills

log = logging.getLogger("paygate.bills")


class BillRecovery:
    """The bill worker's round: business processing of bills due, recovery of unanswered attempts."""

    def __init__(self, ctx: BillContext, bank: BillBank, business: BillBusiness) -> None:
        self.ctx = ctx
        self.bank = bank
        self.business = business

    @property
    def due(self) -> DueBills:
        """The bills the listener queued; the worker wakes on its event."""
        return self.ctx.due

    async def process_due(self, limit: int) -> int:
        """Business processing of bills the bank just paid or left due (bank_succeeded,
        transfer_pending: a crash between the two transactions), and recovery of attempts left
        bank_submitted (sent when never saved, queried when saved but unanswered)."""
        ids = self.ctx.due.take()
        async with self.ctx.reads() as uow:
            repo = uow.bills
            ids += await repo.due_for_business(limit)
            stale = await repo.unanswered_attempts(self.ctx.clock() - self.ctx.policy.resubmit_after, limit)
        done = 0
        for bill_id in dict.fromkeys(ids):
            try:
                await self.business.run_business(bill_id)
                done += 1
            except Exception:
                log.exception("business processing failed", extra={"bill_id": bill_id})
        for bill in stale:
            try:
                await self.bank.recover_attempt(bill)
                done += 1
            except Exception:
                log.exception("bank attempt recovery failed", extra={"bill_id": bill.id})
        return done

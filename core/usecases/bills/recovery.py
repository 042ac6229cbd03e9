"""The bill worker's round: business processing the listener or a crash left due, restart-safe."""

from __future__ import annotations

import logging

from core.usecases.bills.business import BillBusiness
from core.usecases.bills.context import BillContext
from core.usecases.bills.listener import DueBills

log = logging.getLogger("paygate.bills")


class BillRecovery:
    """The bill worker's round: business processing of bills due (the attempts to send are the
    send worker's, `core.usecases.bills.sending`)."""

    def __init__(self, ctx: BillContext, business: BillBusiness) -> None:
        self.ctx = ctx
        self.business = business

    @property
    def due(self) -> DueBills:
        """The bills the listener queued; the worker wakes on its event."""
        return self.ctx.due

    async def process_due(self, limit: int) -> int:
        """Business processing of bills the bank just paid or left due (bank_succeeded,
        transfer_pending: a crash between the two transactions)."""
        ids = self.ctx.due.take()
        async with self.ctx.reads() as uow:
            ids += await uow.bills.due_for_business(limit)
        done = 0
        for bill_id in dict.fromkeys(ids):
            try:
                await self.business.run_business(bill_id)
                done += 1
            except Exception:
                log.exception("business processing failed", extra={"bill_id": bill_id})
        return done

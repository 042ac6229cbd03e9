"""The bill send worker: the 8801 call of each bank attempt that intake or resend_bank committed."""

from __future__ import annotations

import asyncio

from core.usecases.bills.sending import BillSending
from gateway.workers.loop import run_periodically


class BillSendWorker:
    """Runs `BillSending.send_due`: woken at once when this process commits an attempt (intake,
    resend_bank), and every `interval` for the attempts the database shows unclaimed (another
    process's, or one a stopped worker left). No round lease: each attempt is claimed on its own
    row (`claim_attempt`), so every process may send, and never the same attempt twice."""

    def __init__(self, sending: BillSending, batch: int, holder: str) -> None:
        self.sending = sending
        self.batch = batch
        self.holder = holder

    async def run_once(self) -> int:
        return await self.sending.send_due(self.batch, self.holder)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Every `interval` seconds, and as soon as an attempt is queued, until `stop`."""
        await run_periodically("bill_sends", interval, self.run_once, stop, wake=self.sending.queue.event)

"""The bill worker: business processing right after the bank's success, and of bills a crash left due."""

from __future__ import annotations

import asyncio

from core.usecases.bills.recovery import BillRecovery
from gateway.workers.leases import RoundLease
from gateway.workers.loop import run_periodically


class BillWorker:
    """Runs `BillRecovery.process_due`: bills the listener just marked bank_succeeded (woken at
    once), and every bill the database shows due (bank_succeeded, transfer_pending). The bank
    attempts to send are the send worker's (`gateway/workers/bill_sends.py`). All state is in the
    bills table, so a restart loses nothing."""

    def __init__(self, bills: BillRecovery, batch: int, lease: RoundLease | None = None) -> None:
        self.bills = bills
        self.batch = batch
        self.lease = lease

    async def run_once(self) -> int:
        return await self.bills.process_due(self.batch)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Every `interval` seconds, and as soon as the bank pays a bill, until `stop`. With
        several gateway processes, only the holder of the `lease` runs rounds; the others forget
        the bills their listener woke them for (the holder finds them in the bills table)."""
        await run_periodically(
            "bills",
            interval,
            self.run_once,
            stop,
            wake=self.bills.due.event,
            lease=self.lease,
            idle=self.bills.due.take,
        )

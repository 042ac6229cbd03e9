"""The bill worker: business processing right after the bank's success, and of bills a crash left due."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.usecases.bills import BillService

log = logging.getLogger("paygate.workers")


class BillWorker:
    """Runs `BillService.process_due`: bills the listener just marked bank_succeeded (woken at
    once), and every bill the database shows due (bank_succeeded, transfer_pending, or left
    bank_submitted). All state is in the bills table, so a restart loses nothing."""

    def __init__(self, bills: BillService, batch: int) -> None:
        self.bills = bills
        self.batch = batch

    async def run_once(self) -> int:
        return await self.bills.process_due(self.batch)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Every `interval` seconds, and as soon as the bank pays a bill, until `stop`."""
        wake = self.bills.due.event
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("worker step failed", extra={"worker": "bills"})
            stopping = asyncio.ensure_future(stop.wait())
            woken = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({stopping, woken}, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (stopping, woken):
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter

"""The payout worker: pays approved payouts, off the approving request (and those a crash left)."""

from __future__ import annotations

import asyncio

from core.usecases.payouts.recovery import PayoutRecovery
from gateway.workers.leases import RoundLease
from gateway.workers.loop import run_periodically


class PayoutWorker:
    """Runs `PayoutRecovery.run_once`: every approved payout with no payment gets it submitted
    (under the payout's own out_request_no, so never twice); woken at once by an approval in
    this process. All state is in the payouts and payments tables, so a restart loses nothing."""

    def __init__(self, recovery: PayoutRecovery, batch: int, lease: RoundLease | None = None) -> None:
        self.recovery = recovery
        self.batch = batch
        self.lease = lease

    async def run_once(self) -> int:
        return await self.recovery.run_once(self.batch)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Every `interval` seconds until `stop`; with several gateway processes, only in the
        holder of the `lease` (the payments' unique out_request_no keeps a stray overlap safe)."""
        wake = self.recovery.ctx.to_pay
        await run_periodically("payouts", interval, self.run_once, stop, wake=wake, lease=self.lease)

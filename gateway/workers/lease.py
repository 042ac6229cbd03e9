"""The lease worker: collects due rent periods and retries failed ones when their time has come."""

from __future__ import annotations

import asyncio

from core.usecases.lease.recovery import LeaseRecovery
from gateway.workers.leases import RoundLease
from gateway.workers.loop import run_periodically


class LeaseWorker:
    """Runs `LeaseRecovery.run_once`: an attempt for every period due (pending from its due
    date, failed from its retry time; never a second live attempt), pre-orders the channel
    never confirmed, contracts waiting for 落签, and attempts a crash left unsubmitted. All
    state is in the lease tables, so a restart loses nothing."""

    def __init__(self, lease: LeaseRecovery, batch: int, round_lease: RoundLease | None = None) -> None:
        self.lease = lease
        self.batch = batch
        self.round_lease = round_lease

    async def run_once(self) -> int:
        return await self.lease.run_once(self.batch)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Every `interval` seconds until `stop`; with several gateway processes, only in the
        holder of `round_lease` (so no period is collected, and no channel asked, twice at once)."""
        await run_periodically("lease", interval, self.run_once, stop, lease=self.round_lease)

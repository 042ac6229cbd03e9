"""The approvals worker: the channel calls of maker-checker (a proposal's check, a confirmed
resolution's run), which the operators' requests only record (checking, executing)."""

from __future__ import annotations

import asyncio

from core.usecases.ops.approval_runs import ApprovalRuns
from gateway.workers.loop import run_periodically


class ApprovalWorker:
    """Runs `ApprovalRuns.run_due`: woken at once when this process stores a proposal to check or
    a confirmation, and every `interval` for those the database shows unclaimed (another
    process's, or one a stopped worker left once its claim has ended). No round lease: each
    approval is claimed on its own row, so every process may work, never two on one approval."""

    def __init__(self, runs: ApprovalRuns, batch: int, holder: str) -> None:
        self.runs = runs
        self.batch = batch
        self.holder = holder

    async def run_once(self) -> int:
        return await self.runs.run_due(self.batch, self.holder)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Every `interval` seconds, and as soon as an approval is stored, until `stop`."""
        await run_periodically("approvals", interval, self.run_once, stop, wake=self.runs.approvals.wake)

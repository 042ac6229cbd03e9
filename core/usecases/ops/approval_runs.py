"""The approvals worker's round: what an approval does at a channel, off the operators' requests.

A `checking` proposal is checked (`ApprovalCheck`: a fresh channel query) and becomes `pending`,
or `closed` with the refusal's reason (e.g. CHANNEL_HAS_ANSWERED); an `executing` one (confirmed
by its second operator) runs its `ApprovalExecutor` and ends `confirmed` with the result, or
`closed` with the reason of a `DomainError`. A worker first claims the approval (a conditional
update of its lease: `ApprovalStore.claim`), so two workers (of one process, or of gateway
processes sharing a database) never work on one approval at once; a claim lasts `lease`, longer
than the channel calls, and a worker that stopped meanwhile (any other error, a crash) leaves the
approval in its state to be taken over once the claim has ended: the check and the executors are
safe to run again (a fresh query first; funding and payout approval are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from core.approvals.model import Approval, ApprovalStatus
from core.errors import DomainError
from core.usecases.ops.approvals import Approvals

log = logging.getLogger("paygate.approvals")


class ApprovalRuns:
    """Checks the proposals and runs the confirmed actions that the requests stored."""

    def __init__(self, approvals: Approvals, lease: timedelta) -> None:
        self.approvals = approvals
        self.lease = lease

    async def run_due(self, limit: int, holder: str) -> int:
        """Claim and work on every checking/executing approval no worker holds; how many."""
        self.approvals.wake.clear()
        due = await self.approvals.store.due(self.approvals.clock(), limit)
        done = await asyncio.gather(*(self._run(approval, holder) for approval in due))
        return sum(done)

    async def _run(self, approval: Approval, holder: str) -> bool:
        try:
            now = self.approvals.clock()
            store = self.approvals.store
            if not await store.claim(
                approval.id, approval.status, holder=holder, until=now + self.lease, now=now
            ):
                return False  # another worker holds it, or it moved on
            if approval.status is ApprovalStatus.CHECKING:
                await self._check(approval)
            else:
                await self._execute(approval)
        except Exception:
            # left as it is: taken over once the claim has ended
            log.exception("approval not worked on", extra={"approval_id": approval.id})
            return False
        return True

    async def _check(self, approval: Approval) -> None:
        try:
            await self.approvals.checks[approval.action].check_proposal(approval)
        except DomainError as exc:
            await self._close(approval, exc)
            return
        await self.approvals.move(approval, ApprovalStatus.PENDING, at=self.approvals.clock())

    async def _execute(self, approval: Approval) -> None:
        executor = self.approvals.executors[approval.action]
        try:
            result = await executor.execute(approval, approval.decided_by or "")
        except DomainError as exc:
            await self._close(approval, exc)
            return
        await self.approvals.move(
            approval, ApprovalStatus.CONFIRMED, at=self.approvals.clock(), result=result
        )

    async def _close(self, approval: Approval, refused: DomainError) -> None:
        reason = f"{refused.code}: {refused.message}"
        await self.approvals.move(approval, ApprovalStatus.CLOSED, at=self.approvals.clock(), reason=reason)

"""Fakes of the approvals' storage and of the escalation read, and the operator resolution and
approvals wired over a payment harness, as the container wires them over the real storage."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from core.approvals.model import OPEN_STATES, WORKER_STATES, Approval, ApprovalAction, ApprovalStatus
from core.operators.model import Operator, Role
from core.usecases.ops.approval_runs import ApprovalRuns
from core.usecases.ops.approvals import Approvals
from core.usecases.payments.operator_resolve import OperatorResolution
from fakes.services import PaymentHarness


class FakeApprovals:
    """`ApprovalStore` in memory; `claim` and `move` are conditional, as the SQL updates are;
    `leases` holds each claimed approval's (holder, until)."""

    def __init__(self) -> None:
        self.rows: dict[str, Approval] = {}
        self.leases: dict[str, tuple[str, datetime]] = {}

    def _free(self, approval_id: str, now: datetime) -> bool:
        lease = self.leases.get(approval_id)
        return lease is None or lease[1] <= now

    async def due(self, now: datetime, limit: int) -> list[Approval]:
        found = [a for a in self.rows.values() if a.status in WORKER_STATES and self._free(a.id, now)]
        return sorted(found, key=lambda a: (a.proposed_at, a.id))[:limit]

    async def claim(
        self, approval_id: str, status: ApprovalStatus, *, holder: str, until: datetime, now: datetime
    ) -> bool:
        row = self.rows.get(approval_id)
        if row is None or row.status is not status or not self._free(approval_id, now):
            return False
        self.leases[approval_id] = (holder, until)
        return True

    async def add(self, approval: Approval, *, sole: bool = False) -> Approval | None:
        same = (approval.action, approval.subject_id)
        open_ones = [
            a for a in self.rows.values() if (a.action, a.subject_id) == same and a.status in OPEN_STATES
        ]
        if sole and open_ones:
            return open_ones[0]
        self.rows[approval.id] = approval
        return None

    async def get(self, approval_id: str) -> Approval | None:
        return self.rows.get(approval_id)

    async def move(
        self,
        approval_id: str,
        expected: ApprovalStatus,
        to: ApprovalStatus,
        *,
        at: datetime,
        decided_by: str | None = None,
        reason: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        row = self.rows.get(approval_id)
        if row is None or row.status is not expected:
            return False
        changes: dict[str, Any] = {"status": to}
        if decided_by is not None:
            changes.update(decided_by=decided_by, decided_at=at)
        if reason is not None:
            changes["reason"] = reason
        if result is not None:
            changes["result"] = result
        self.rows[approval_id] = replace(row, **changes)
        self.leases.pop(approval_id, None)
        return True


class FakeEscalations:
    """`EscalatedPayments` over the fake payments' schedules."""

    def __init__(self, harness: PaymentHarness) -> None:
        self.harness = harness

    async def escalated(self, payment_id: str) -> bool:
        return bool(self.harness.state.schedules.get(payment_id, {}).get("escalated"))


def operator(login: str, *roles: Role) -> Operator:
    return Operator(
        f"op_{login}",
        login,
        None,
        frozenset(roles or (Role.FINANCE,)),
        False,
        datetime(2026, 1, 1, tzinfo=UTC),
    )


@dataclass
class ResolveWorld:
    pay: PaymentHarness
    store: FakeApprovals
    resolution: OperatorResolution
    approvals: Approvals
    runs: ApprovalRuns

    async def work(self, holder: str = "worker-1") -> int:
        """One round of the approvals worker."""
        return await self.runs.run_due(50, holder)

    async def propose(
        self,
        payment_id: str,
        decision: str,
        by: Operator,
        evidence: str | None = None,
        note: str | None = None,
    ) -> Approval:
        """The proposing request as gateway.maker_checker.propose_resolution makes it: the local
        check, then the proposal stored `checking` (no channel call)."""
        payment = await self.resolution.admissible(payment_id)
        payload: dict[str, Any] = {"decision": decision}
        if evidence is not None:
            payload["evidence"] = evidence
        return await self.approvals.propose(
            ApprovalAction.RESOLVE_PAYMENT, "payment", payment.id, payload, by, note=note
        )

    def row(self, approval_id: str) -> Approval:
        return self.store.rows[approval_id]


def resolve_world(pay: PaymentHarness) -> ResolveWorld:
    """The operator resolution and the approvals over `pay`'s fakes."""
    results = pay.service.results
    resolution = OperatorResolution(
        results.storage, pay.service.access, results.trail, results, FakeEscalations(pay)
    )
    store = FakeApprovals()
    approvals = Approvals(
        store,
        {ApprovalAction.RESOLVE_PAYMENT: resolution},
        pay.clock,
        checks={ApprovalAction.RESOLVE_PAYMENT: resolution},
    )
    return ResolveWorld(pay, store, resolution, approvals, ApprovalRuns(approvals, LEASE))


# the approvals worker's claim in these tests: a test moves the clock past it to take over
LEASE = timedelta(seconds=90)

"""Fakes of the approvals' storage and of the escalation read, and the operator resolution and
approvals wired over a payment harness, as the container wires them over the real storage."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from core.approvals.model import Approval, ApprovalAction, ApprovalStatus
from core.operators.model import Operator, Role
from core.usecases.ops.approvals import Approvals
from core.usecases.payments.operator_resolve import OperatorResolution
from fakes.services import PaymentHarness


class FakeApprovals:
    """`ApprovalStore` in memory; `move` is conditional, as the SQL update is."""

    def __init__(self) -> None:
        self.rows: dict[str, Approval] = {}

    async def add(self, approval: Approval) -> None:
        self.rows[approval.id] = approval

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


def resolve_world(pay: PaymentHarness) -> ResolveWorld:
    """The operator resolution and the approvals over `pay`'s fakes."""
    results = pay.service.results
    resolution = OperatorResolution(
        results.storage, pay.service.access, results.trail, results, FakeEscalations(pay)
    )
    store = FakeApprovals()
    approvals = Approvals(store, {ApprovalAction.RESOLVE_PAYMENT: resolution}, pay.clock)
    return ResolveWorld(pay, store, resolution, approvals)

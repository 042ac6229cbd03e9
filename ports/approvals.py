"""Storage of approvals (maker-checker) and of the audit log, as the approvals use case needs it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from core.approvals.model import Approval, ApprovalStatus, AuditEntry


class ApprovalStore(Protocol):
    async def add(self, approval: Approval, *, sole: bool = False) -> Approval | None:
        """Store the approval; with `sole`, only when no approval of the same action and subject
        is open (`OPEN_STATES`), checked and stored at once: that open one is answered then, and
        nothing is stored."""
        ...

    async def get(self, approval_id: str) -> Approval | None: ...

    async def due(self, now: datetime, limit: int) -> list[Approval]:
        """Approvals in a worker state (checking, executing) that no worker holds: never claimed,
        or their claim ended before `now` (its worker stopped); oldest first."""
        ...

    async def claim(
        self, approval_id: str, status: ApprovalStatus, *, holder: str, until: datetime, now: datetime
    ) -> bool:
        """Hold the approval until `until` for `holder`, while it is still in `status` and no
        other worker holds it (a conditional update): False when another got it first."""
        ...

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
        """Move the approval from `expected` to `to` (a conditional update) and end any worker's
        claim on it: False when it was not in `expected` any more (another decision came first)."""
        ...


class AuditLog(Protocol):
    async def record(self, entry: AuditEntry) -> None: ...

    async def finish(self, entry_id: str, outcome: str, note: str | None) -> bool:
        """Give a `started` record its outcome (and the note the request gave); False when the
        record is missing or not `started` any more."""
        ...


class EscalatedPayments(Protocol):
    async def escalated(self, payment_id: str) -> bool:
        """Whether the payment's query schedule ran out (it was escalated to operators)."""
        ...

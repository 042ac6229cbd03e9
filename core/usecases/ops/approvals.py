"""`Approvals`: maker-checker for money-moving operator actions, one mechanism for all of them.

No operator's request waits on a channel: these are the requests, which only record intent;
the approvals worker (core/usecases/ops/approval_runs.py) does what calls a channel. The first
operator's call `propose`s: the approval is stored `pending`, or `checking` when its action has
an `ApprovalCheck` (resolving a payment: the worker asks the channel first). A *different*
operator holding the action's permission `confirm`s it, which claims it (pending → executing, a
conditional update: of concurrent confirmations exactly one wins) and wakes the worker, which
runs the action's `ApprovalExecutor`; or `reject`s it with a reason. `get` shows where it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from core.approvals.model import Approval, ApprovalAction, ApprovalStatus, check_move
from core.errors import Conflict, DomainError, InvalidArgument, NotFound
from core.ids import new_id, utcnow
from core.operators.model import Operator, role_needed
from ports.approvals import ApprovalStore


class Forbidden(DomainError):
    code = "FORBIDDEN"
    http_status = 403


class ApprovalExecutor(Protocol):
    async def execute(self, approval: Approval, confirmed_by: str) -> dict[str, Any]:
        """Run the confirmed action (in the approvals worker); the answer is stored as the
        approval's result. Raise a DomainError to refuse (the approval is closed, nothing was
        done). Run again when a worker stopped in the middle, so it must be idempotent."""
        ...


class ApprovalCheck(Protocol):
    async def check_proposal(self, approval: Approval) -> None:
        """Check a `checking` proposal (in the approvals worker) before a second operator may
        confirm it: return to make it pending; raise a DomainError to close it with that reason."""
        ...


class Approvals:
    def __init__(
        self,
        store: ApprovalStore,
        executors: Mapping[ApprovalAction, ApprovalExecutor],
        clock: Callable[[], datetime] = utcnow,
        checks: Mapping[ApprovalAction, ApprovalCheck] | None = None,
    ) -> None:
        self.store = store
        self.executors = dict(executors)
        self.checks = dict(checks or {})
        self.clock = clock
        # set when this process stored work for the approvals worker: it starts at once
        self.wake = asyncio.Event()

    async def propose(
        self,
        action: ApprovalAction,
        subject_type: str,
        subject_id: str,
        payload: dict[str, Any],
        operator: Operator,
        note: str | None = None,
    ) -> Approval:
        _check_may(operator, action)
        approval = Approval(
            id=new_id("apr"),
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            payload=payload,
            status=ApprovalStatus.CHECKING if action in self.checks else ApprovalStatus.PENDING,
            proposed_by=operator.login,
            proposed_at=self.clock(),
            note=note,
        )
        already = await self.store.add(approval, sole=action.one_open_per_subject)
        if already is not None:
            raise Conflict(
                f"approval {already.id} ({already.status.value}) already proposes this; "
                "it is confirmed or rejected first",
                code="APPROVAL_OPEN",
            )
        if approval.status is ApprovalStatus.CHECKING:
            self.wake.set()
        return approval

    async def get(self, approval_id: str) -> Approval:
        approval = await self.store.get(approval_id)
        if approval is None:
            raise NotFound(f"approval {approval_id} does not exist")
        return approval

    async def confirm(self, approval_id: str, operator: Operator) -> Approval:
        """Claim the proposal as its second operator (pending → executing): the approvals worker
        runs its action, once; the approval shows when it has (confirmed or closed)."""
        approval = await self._decidable(approval_id, operator)
        now = self.clock()
        if not await self.move(approval, ApprovalStatus.EXECUTING, at=now, decided_by=operator.login):
            raise Conflict(f"approval {approval.id} was decided meanwhile", code="APPROVAL_DECIDED")
        self.wake.set()
        return replace(approval, status=ApprovalStatus.EXECUTING, decided_by=operator.login, decided_at=now)

    async def reject(self, approval_id: str, operator: Operator, reason: str) -> Approval:
        if not reason.strip():
            raise InvalidArgument("a rejection needs a reason", field="reason")
        approval = await self._decidable(approval_id, operator, own_allowed=True)
        now = self.clock()
        moved = await self.move(
            approval, ApprovalStatus.REJECTED, at=now, decided_by=operator.login, reason=reason
        )
        if not moved:
            raise Conflict(f"approval {approval.id} was decided meanwhile", code="APPROVAL_DECIDED")
        return replace(
            approval, status=ApprovalStatus.REJECTED, decided_by=operator.login, decided_at=now, reason=reason
        )

    async def move(
        self,
        approval: Approval,
        to: ApprovalStatus,
        *,
        at: datetime,
        decided_by: str | None = None,
        reason: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """One move of the state machine (an illegal one raises), conditional on the approval
        still being as read: False when another decision or worker came first."""
        check_move(approval.status, to)
        return await self.store.move(
            approval.id, approval.status, to, at=at, decided_by=decided_by, reason=reason, result=result
        )

    async def _decidable(
        self, approval_id: str, operator: Operator, *, own_allowed: bool = False
    ) -> Approval:
        approval = await self.get(approval_id)
        _check_may(operator, approval.action)
        if approval.status is ApprovalStatus.CHECKING:
            raise Conflict(
                f"approval {approval.id} is still being checked at the channel: try again shortly",
                code="APPROVAL_CHECKING",
            )
        if approval.status is not ApprovalStatus.PENDING:
            raise Conflict(
                f"approval {approval.id} is {approval.status.value}, not pending", code="APPROVAL_DECIDED"
            )
        # the proposer may withdraw (reject) their own proposal, never confirm it
        if not own_allowed and approval.proposed_by == operator.login:
            raise Forbidden(
                f"{operator.login} proposed this action: a different operator must confirm it",
                code="SAME_OPERATOR",
            )
        return approval


def _check_may(operator: Operator, action: ApprovalAction) -> None:
    if not operator.may(action.permission):
        raise Forbidden(
            f"this action needs the role {role_needed(action.permission).value!r}", code="ROLE_REQUIRED"
        )

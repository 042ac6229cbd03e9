"""`Approvals`: maker-checker for money-moving operator actions, one mechanism for all of them.

The first operator's call `propose`s (the approval is stored `pending`); a *different* operator
holding the action's permission `confirm`s it, which claims it (pending → executing, a
conditional update: of concurrent confirmations exactly one runs the action) and runs the
action's `ApprovalExecutor`; or `reject`s it with a reason. An executor that refuses to run
(e.g. the channel has answered meanwhile) raises a `DomainError`: the approval is then `closed`
with that reason and the error goes to the confirming operator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from core.approvals.model import Approval, ApprovalAction, ApprovalStatus
from core.errors import Conflict, DomainError, InvalidArgument, NotFound
from core.ids import new_id, utcnow
from core.operators.model import Operator, role_needed
from ports.approvals import ApprovalStore


class Forbidden(DomainError):
    code = "FORBIDDEN"
    http_status = 403


class ApprovalExecutor(Protocol):
    async def execute(self, approval: Approval, confirmed_by: str) -> dict[str, Any]:
        """Run the confirmed action; the answer is stored as the approval's result. Raise a
        DomainError to refuse (the approval is closed, nothing was done)."""
        ...


class Approvals:
    def __init__(
        self,
        store: ApprovalStore,
        executors: Mapping[ApprovalAction, ApprovalExecutor],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.executors = dict(executors)
        self.clock = clock

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
            status=ApprovalStatus.PENDING,
            proposed_by=operator.login,
            proposed_at=self.clock(),
            note=note,
        )
        await self.store.add(approval)
        return approval

    async def get(self, approval_id: str) -> Approval:
        approval = await self.store.get(approval_id)
        if approval is None:
            raise NotFound(f"approval {approval_id} does not exist")
        return approval

    async def confirm(self, approval_id: str, operator: Operator) -> Approval:
        """Run the proposal's action once, as its second operator."""
        approval = await self._decidable(approval_id, operator)
        now = self.clock()
        claimed = await self.store.move(
            approval.id, ApprovalStatus.PENDING, ApprovalStatus.EXECUTING, at=now, decided_by=operator.login
        )
        if not claimed:
            raise Conflict(f"approval {approval.id} was decided meanwhile", code="APPROVAL_DECIDED")
        executing = replace(
            approval, status=ApprovalStatus.EXECUTING, decided_by=operator.login, decided_at=now
        )
        try:
            result = await self.executors[approval.action].execute(executing, operator.login)
        except DomainError as exc:
            await self.store.move(
                approval.id,
                ApprovalStatus.EXECUTING,
                ApprovalStatus.CLOSED,
                at=self.clock(),
                reason=f"{exc.code}: {exc.message}",
            )
            raise
        # any other error: it is unknown what ran, so the approval stays executing for a person
        done = self.clock()
        await self.store.move(
            approval.id, ApprovalStatus.EXECUTING, ApprovalStatus.CONFIRMED, at=done, result=result
        )
        return replace(executing, status=ApprovalStatus.CONFIRMED, result=result)

    async def reject(self, approval_id: str, operator: Operator, reason: str) -> Approval:
        if not reason.strip():
            raise InvalidArgument("a rejection needs a reason", field="reason")
        approval = await self._decidable(approval_id, operator, own_allowed=True)
        now = self.clock()
        moved = await self.store.move(
            approval.id,
            ApprovalStatus.PENDING,
            ApprovalStatus.REJECTED,
            at=now,
            decided_by=operator.login,
            reason=reason,
        )
        if not moved:
            raise Conflict(f"approval {approval.id} was decided meanwhile", code="APPROVAL_DECIDED")
        return replace(
            approval, status=ApprovalStatus.REJECTED, decided_by=operator.login, decided_at=now, reason=reason
        )

    async def _decidable(
        self, approval_id: str, operator: Operator, *, own_allowed: bool = False
    ) -> Approval:
        approval = await self.get(approval_id)
        _check_may(operator, approval.action)
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

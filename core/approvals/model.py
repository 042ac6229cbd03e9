"""Pending approvals (maker-checker) and audit records.

An action that needs two operators is first a *proposal*: one operator asks, the approval waits
`pending` (an action whose proposal must first be checked at a channel, resolving a payment,
starts `checking` until the approvals worker has asked the channel: then `pending`, or `closed`
when the channel has answered); a different operator holding the permission it needs confirms it
(then it is `executing` until the approvals worker has run it, exactly once, and ends
`confirmed`, or `closed` when a fresh look at the world refused it, e.g. the channel answered
meanwhile) or rejects it (`rejected`, with a reason). Every move is one of `MOVES` and a
conditional update on the approval's state, so of two concurrent confirmations one runs the
action and the other is refused.

    checking --> pending --> executing --> confirmed
        |           |            |
        v           v            v
      closed     rejected      closed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.errors import IllegalTransition
from core.operators.model import Permission


class ApprovalStatus(StrEnum):
    CHECKING = "checking"  # proposed; the approvals worker checks it at the channel first
    PENDING = "pending"
    EXECUTING = "executing"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CLOSED = "closed"  # confirmed, but the action was refused when it was about to run


# the moves an approval may make; every other is refused (`check_move`)
MOVES: dict[ApprovalStatus, frozenset[ApprovalStatus]] = {
    ApprovalStatus.CHECKING: frozenset({ApprovalStatus.PENDING, ApprovalStatus.CLOSED}),
    ApprovalStatus.PENDING: frozenset({ApprovalStatus.EXECUTING, ApprovalStatus.REJECTED}),
    ApprovalStatus.EXECUTING: frozenset({ApprovalStatus.CONFIRMED, ApprovalStatus.CLOSED}),
    ApprovalStatus.CONFIRMED: frozenset(),
    ApprovalStatus.REJECTED: frozenset(),
    ApprovalStatus.CLOSED: frozenset(),
}
# the states the approvals worker moves on: a worker holds each under a lease while it works
WORKER_STATES = (ApprovalStatus.CHECKING, ApprovalStatus.EXECUTING)
# not yet decided and done: a second proposal of the same decision would only wait beside it
OPEN_STATES = (ApprovalStatus.CHECKING, ApprovalStatus.PENDING, ApprovalStatus.EXECUTING)


def check_move(frm: ApprovalStatus, to: ApprovalStatus) -> None:
    """Refuse a move the approvals' state machine does not have."""
    if to not in MOVES[frm]:
        raise IllegalTransition(f"an approval cannot move from {frm.value} to {to.value}", field="status")


class ApprovalAction(StrEnum):
    """What an approval does once confirmed, and the permission its operators need."""

    RESOLVE_PAYMENT = "resolve_payment"
    FUND_ACCOUNT = "fund_account"
    APPROVE_PAYOUT = "approve_payout"

    @property
    def permission(self) -> Permission:
        return _PERMISSION[self]

    @property
    def one_open_per_subject(self) -> bool:
        """Whether the subject alone names the decision (a payout's approval, a payment's
        outcome), so that one open proposal of it at a time is all there may be; a funding
        is one of many an account may have, each its own."""
        return self is not ApprovalAction.FUND_ACCOUNT


_PERMISSION = {
    ApprovalAction.RESOLVE_PAYMENT: Permission.RESOLVE_PAYMENTS,
    ApprovalAction.FUND_ACCOUNT: Permission.FUND_ACCOUNTS,
    ApprovalAction.APPROVE_PAYOUT: Permission.REVIEW_PAYOUTS,
}


@dataclass(frozen=True)
class Approval:
    """One proposal and, once decided, who decided it and how it ended."""

    id: str
    action: ApprovalAction
    subject_type: str
    subject_id: str
    payload: dict[str, Any]
    status: ApprovalStatus
    proposed_by: str
    proposed_at: datetime
    note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None  # a rejection's reason, or why a confirmed action did not run
    result: dict[str, Any] = field(default_factory=dict)


# the outcome of an action's record written before the action runs: it stays so only when the
# process stopped (or the audit write failed) before the outcome was recorded
STARTED = "started"


@dataclass(frozen=True)
class AuditEntry:
    """One operator action, as the audit log keeps it."""

    id: str
    at: datetime
    operator: str
    role: str | None  # the role the action needed (the one the operator used)
    action: str
    subject_type: str | None
    subject_id: str | None
    outcome: str  # "ok", "proposed", "refused:<code>", "error"; STARTED until the action ends
    note: str | None = None
    trace_id: str | None = None
    client: str | None = None

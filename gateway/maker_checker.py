"""The actions maker-checker runs once a second operator confirms them (beside the payment
resolution, core/usecases/payments/operator_resolve.py): funding an account and approving a
payout over the configured amount. Each stores what it needs in the proposal's payload."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from core.approvals.model import Approval, ApprovalAction
from core.money import Money
from core.operators.model import Operator
from core.payouts.model import Payout, PayoutStatus
from core.usecases.ops.approvals import Approvals
from core.usecases.payments.operator_resolve import OperatorResolution
from core.usecases.payouts.service import PayoutService
from core.usecases.payouts.views import payout_view
from gateway.storage.accounts import AccountStore


class FundingExecutor:
    """Credits the account as the proposal says (idempotent on its out_request_no)."""

    def __init__(self, accounts: AccountStore) -> None:
        self.accounts = accounts

    async def execute(self, approval: Approval, confirmed_by: str) -> dict[str, Any]:
        p = approval.payload
        funding, _ = await self.accounts.fund(
            approval.subject_id,
            p["out_request_no"],
            Money.parse(p["amount"], p["currency"]),
            p["request_hash"],
            actor=f"{approval.proposed_by}+{confirmed_by}",
        )
        return {"funding": funding}


class PayoutApprovalExecutor:
    """Approves the payout: the proposer is its reviewer, the confirming operator its operator."""

    def __init__(self, payouts: PayoutService) -> None:
        self.payouts = payouts

    async def execute(self, approval: Approval, confirmed_by: str) -> dict[str, Any]:
        payout = await self.payouts.approve(
            approval.subject_id,
            reviewer=approval.proposed_by,
            operator=confirmed_by,
            note=approval.note,
        )
        return {"payout": payout_view(payout)}


async def approve_or_propose(
    payouts: PayoutService,
    approvals: Approvals,
    over: Decimal,
    payout_id: str,
    operator: Operator,
    note: str | None,
) -> Payout | Approval:
    """Finance's approval of a payout, by every way in (/ops and the console): approved at once,
    or, above `ops.maker_checker.payout_approval_over`, proposed for a second finance operator."""
    current = await payouts.get(payout_id)
    if current.status is PayoutStatus.PENDING_REVIEW and current.application.amount.decimal > over:
        return await approvals.propose(
            ApprovalAction.APPROVE_PAYOUT, "payout", payout_id, {}, operator, note=note
        )
    return await payouts.approve(payout_id, reviewer=operator.login, operator=operator.login, note=note)


async def propose_resolution(
    resolution: OperatorResolution,
    approvals: Approvals,
    payment_id: str,
    proposal: Mapping[str, Any],
    operator: Operator,
    note: str | None,
) -> Approval:
    """An operator's proposed outcome of an escalated payment, by every way in (/ops and the
    console): stored `checking` at once (the approvals worker queries the channel, then it waits
    `pending` for a second operator); no channel call in this request."""
    payment = await resolution.admissible(payment_id)
    return await approvals.propose(
        ApprovalAction.RESOLVE_PAYMENT, "payment", payment.id, dict(proposal), operator, note=note
    )

"""The actions maker-checker runs once a second operator confirms them (beside the payment
resolution, core/usecases/payments/operator_resolve.py): funding an account and approving a
payout over the configured amount. Each stores what it needs in the proposal's payload."""

from __future__ import annotations

from typing import Any

from core.approvals.model import Approval
from core.money import Money
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

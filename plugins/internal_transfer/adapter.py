"""The payment and query ports of the internal ledger: plans balanced flows, touches nothing."""

from __future__ import annotations

from plugins.internal_transfer.terms import command_from_request, plan, referenced_accounts
from ports.channels import (
    AccountDirectory,
    ChannelResult,
    ChannelStatus,
    DeferredPostings,
    PaymentRequest,
)


class InternalTransferAdapter:
    """Submit computes the ledger flows of the payment (seed 003 rules); the gateway commits
    them with the payment's final state in one transaction, so a repeat cannot move money twice."""

    def __init__(self, accounts: AccountDirectory) -> None:
        self.accounts = accounts

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        command = command_from_request(request)
        views = await self.accounts.get_accounts(referenced_accounts(request))
        result = plan(command, views)
        return ChannelResult(
            ChannelStatus.SUCCEEDED,
            channel_ref=request.payment_id,
            postings=result.postings,
            deferred=tuple(DeferredPostings(d.order, d.kind, d.postings) for d in result.deferred),
            raw={"seller_net": str(result.seller_net), "wallet_fee": str(result.wallet_fee)},
        )

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        # Internal transfers are final when committed; a payment still open here never posted.
        return ChannelResult(
            ChannelStatus.FAILED,
            code="NOT_POSTED",
            message="the internal transfer was never committed",
        )

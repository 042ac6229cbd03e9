"""`plan_general_pay`: the ledger flows a valid command books now, and its deferred settlements in order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.general_pay.checks import (
    charges_buyer_fee,
    check_amounts,
    check_buyer_fee,
    check_parties,
    check_solution_accounts,
)
from core.general_pay.fees import FeeHop, ResolvedFee, fee_hops, resolve_fee
from core.general_pay.model import (
    FEE_SETTLEMENT_ORDER,
    TRADE_SETTLEMENT_ORDER,
    DeferredSettlement,
    GeneralPayCommand,
    GeneralPayPlan,
    SettlementKind,
    SettlementType,
)
from core.general_pay.profit_sharing import check_profit_shares
from core.ledger import AccountView, FlowKind, Posting, SubAccount, check_balanced, transfer
from core.money import Money


def plan_general_pay(cmd: GeneralPayCommand, accounts: Mapping[str, AccountView]) -> GeneralPayPlan:
    """Validate `cmd` against `accounts` and return the ledger flows it books, now and later."""
    currency = check_amounts(cmd)
    check_parties(cmd, accounts, currency)
    fee = resolve_fee(cmd, accounts, currency)
    check_buyer_fee(cmd, accounts, currency)
    hops, wallet_fee = fee_hops(cmd, fee, currency)
    check_solution_accounts(cmd, accounts, currency, fee)
    shares = _total((s.amount for s in cmd.profit_shares), currency)
    check_profit_shares(cmd, fee, shares)

    now, deferred = _book(cmd, fee, hops, shares)
    check_balanced(now)
    fee_amount = fee.amount if fee is not None else Money.zero(currency)
    return GeneralPayPlan(
        postings=tuple(now),
        deferred=tuple(deferred),
        seller_net=cmd.cash_amount - fee_amount - shares,
        wallet_fee=wallet_fee,
        marketing=cmd.marketing,
    )


def _book(
    cmd: GeneralPayCommand, fee: ResolvedFee | None, hops: list[FeeHop], shares: Money
) -> tuple[list[Posting], list[DeferredSettlement]]:
    """The flows booked now (trade, real-time shares and fee, buyer fee), and the deferred
    settlements: an asynchronous trade's before an asynchronous fee's."""
    buyer, seller = cmd.buyer_account_id, cmd.seller_account_id
    realtime = cmd.settlement_type is SettlementType.REALTIME
    trade_sub = SubAccount.AVAILABLE if realtime else SubAccount.PENDING
    now: list[Posting] = [
        *transfer(buyer, seller, cmd.cash_amount, FlowKind.TRANSFER, target_sub=trade_sub, memo="trade"),
    ]
    share_postings = _profit_share_postings(cmd, trade_sub)
    fee_postings = [
        leg for hop in hops for leg in transfer(hop.source, hop.target, hop.amount, hop.kind, memo=hop.memo)
    ]
    deferred: list[DeferredSettlement] = []
    if realtime:
        now.extend(share_postings)
    else:
        deferred.append(_trade_settlement(cmd, shares, share_postings))
    if fee_postings:
        if fee is not None and fee.settlement is SettlementType.REALTIME:
            now.extend(fee_postings)
        else:
            deferred.append(_deferred(SettlementKind.FEE, FEE_SETTLEMENT_ORDER, fee_postings))
    if cmd.buyer_fee is not None and charges_buyer_fee(cmd):
        now.extend(
            transfer(
                buyer,
                cmd.buyer_fee.account_id,
                cmd.buyer_fee.amount,
                FlowKind.BUYER_FEE,
                memo="buyer fee",
            )
        )
    return now, deferred


def _profit_share_postings(cmd: GeneralPayCommand, trade_sub: SubAccount) -> list[Posting]:
    """The shares leave the seller's sub-account that the trade credited."""
    return [
        leg
        for share in cmd.profit_shares
        for leg in transfer(
            cmd.seller_account_id,
            share.account_id,
            share.amount,
            FlowKind.PROFIT_SHARE,
            source_sub=trade_sub,
            memo="profit share",
        )
    ]


def _trade_settlement(
    cmd: GeneralPayCommand, shares: Money, share_postings: list[Posting]
) -> DeferredSettlement:
    """An asynchronous trade's settlement: what the seller keeps moves from pending to available,
    and the profit shares leave with it."""
    settled = cmd.cash_amount - shares
    trade_legs = list(share_postings)
    if settled.minor:
        trade_legs[:0] = transfer(
            cmd.seller_account_id,
            cmd.seller_account_id,
            settled,
            FlowKind.SETTLEMENT,
            source_sub=SubAccount.PENDING,
            memo="trade settlement",
        )
    return _deferred(SettlementKind.TRADE, TRADE_SETTLEMENT_ORDER, trade_legs)


def _deferred(kind: SettlementKind, order: int, legs: list[Posting]) -> DeferredSettlement:
    check_balanced(legs)
    return DeferredSettlement(kind=kind, order=order, postings=tuple(legs))


def _total(amounts: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total

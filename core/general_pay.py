"""Pure rules of the seed-003 general pay transaction: validate a command, plan its ledger flows.

The buyer pays the seller `cash_amount`. A real-time trade credits the seller's available
sub-account (1) at once; an asynchronous one credits the pending sub-account (3) now and leaves a
deferred "trade" settlement that moves it to available. The seller's fee is deducted at source
(坐扣) or collected later (后收); a real-time fee settlement is booked with the trade, an
asynchronous one is a deferred "fee" settlement ordered after the trade's, so the seller has
the money by then. Refused: a real-time fee that is collected later, and an asynchronous trade
with a real-time fee. With upper merchants (an agent chain of at most two levels) the fee
travels seller -> middle -> top -> wallet, each hop keeping its margin: the wallet (the fee
account) receives the top merchant's `fee_amount`; a top merchant's `fee_plus_amount` equals
what the middle passes up (0 when it is the only level). An optional buyer fee is paid by the
buyer at once. Profit shares leave the seller in the trade's settlement and may not exceed what
the seller keeps after a deducted fee. Marketing is carried into the plan, never booked.

Glossary (seed term -> name here):
    buyer, seller, cash_amount             -> GeneralPayCommand fields of the same names
    settlement_type 实时 / 异步             -> SettlementType.REALTIME / ASYNC
    sub_account_type 1 / 3                 -> SubAccount.AVAILABLE / PENDING (core.ledger)
    fee_amount, fee_account 收益账户        -> FeeTerms.fee_amount, FeeTerms.fee_account_id
    fee_type 1 坐扣 / 2 后收                -> FeeType.DEDUCTED / COLLECT_LATER
    fee_settlement_type                    -> FeeTerms.fee_settlement_type
    pay_mode (has_pay_mode)                -> FeeTerms.pay_mode
    buyer_fee_amount, buyer_fee_user_id    -> BuyerFee.amount, BuyerFee.account_id
    up_merchants / merchant_user, up1, up2 -> upper_merchants, MerchantLevel.MIDDLE / TOP
    fee_plus_amount                        -> UpperMerchant.fee_plus_amount
    solution_user (fee solution)           -> GeneralPayCommand.fee_solution
    钱包收取的手续费                          -> GeneralPayPlan.wallet_fee
    billing_solution_info 分账方案          -> profit_shares (ProfitShare)
    mkt_solution / ac_solution 营销方案     -> MarketingSolution
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from core.errors import BusinessRuleViolation, InvalidArgument
from core.ledger import (
    AccountKind,
    AccountStatus,
    AccountView,
    FlowKind,
    Posting,
    SubAccount,
    check_balanced,
    transfer,
)
from core.money import Money, check_currency

MAX_UPPER_MERCHANTS = 2
TRADE_SETTLEMENT_ORDER = 1
FEE_SETTLEMENT_ORDER = 2

# Every code plan_general_pay can raise (besides UNSUPPORTED_CURRENCY from core.money).
ERROR_CODES: frozenset[str] = frozenset(
    {
        "INVALID_AMOUNT",
        "CURRENCY_MISMATCH",
        "PAYER_PAYEE_SAME",
        "FEE_TERMS_INCOMPLETE",
        "ACCOUNT_NOT_FOUND",
        "ACCOUNT_NOT_NORMAL",
        "ACCOUNT_CURRENCY_MISMATCH",
        "FEE_EXCEEDS_AMOUNT",
        "FEE_SETTLEMENT_CONFLICT",
        "FEE_ACCOUNT_NOT_FOUND",
        "FEE_ACCOUNT_NOT_CUSTOMER",
        "FEE_ACCOUNT_IS_PARTY",
        "BUYER_FEE_ACCOUNT_NOT_FOUND",
        "BUYER_FEE_ACCOUNT_NOT_CUSTOMER",
        "BUYER_FEE_ACCOUNT_IS_PARTY",
        "SOLUTION_ACCOUNT_INVALID",
        "UPPER_MERCHANT_WITHOUT_FEE",
        "UPPER_MERCHANT_COUNT_INVALID",
        "UPPER_MERCHANT_LEVELS_INVALID",
        "UPPER_MERCHANT_DUPLICATE",
        "UPPER_MERCHANT_FEE_PLUS_INVALID",
        "UPPER_MERCHANT_FEE_EXCEEDS",
        "FEE_SOLUTION_MERCHANT_UNKNOWN",
        "FEE_SOLUTION_MERCHANT_MISSING",
        "PROFIT_SHARE_EXCEEDS",
    }
)


class SettlementType(enum.StrEnum):
    REALTIME = "realtime"
    ASYNC = "async"


class FeeType(enum.IntEnum):
    DEDUCTED = 1  # 坐扣: taken from the seller with the trade's proceeds
    COLLECT_LATER = 2  # 后收: collected from the seller by a later settlement


class MerchantLevel(enum.IntEnum):
    MIDDLE = 1
    TOP = 2


class SettlementKind(enum.StrEnum):
    TRADE = "trade"
    FEE = "fee"


# Allowed sorted merchant levels by number of merchants: a sole merchant of either level is
# the top one; two need one middle and one top.
_VALID_LEVELS: dict[int, frozenset[tuple[int, ...]]] = {
    0: frozenset({()}),
    1: frozenset({(MerchantLevel.MIDDLE,), (MerchantLevel.TOP,)}),
    2: frozenset({(MerchantLevel.MIDDLE, MerchantLevel.TOP)}),
}


@dataclass(frozen=True, slots=True)
class FeeTerms:
    """The seller's fee; fee_type, fee_settlement_type and pay_mode come all together or none."""

    fee_amount: Money
    fee_account_id: str
    fee_type: FeeType | None = None
    fee_settlement_type: SettlementType | None = None
    pay_mode: str | None = None


@dataclass(frozen=True, slots=True)
class BuyerFee:
    amount: Money
    account_id: str


@dataclass(frozen=True, slots=True)
class UpperMerchant:
    """One level of the agent chain: `fee_amount` is what it passes up the chain."""

    account_id: str
    level: MerchantLevel
    fee_amount: Money
    fee_plus_amount: Money


@dataclass(frozen=True, slots=True)
class ProfitShare:
    account_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class MarketingSolution:
    solution_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class GeneralPayCommand:
    buyer_account_id: str
    seller_account_id: str
    cash_amount: Money
    settlement_type: SettlementType = SettlementType.REALTIME
    fee: FeeTerms | None = None
    buyer_fee: BuyerFee | None = None
    upper_merchants: tuple[UpperMerchant, ...] = ()
    fee_solution: tuple[str, ...] = ()
    profit_shares: tuple[ProfitShare, ...] = ()
    marketing: MarketingSolution | None = None


@dataclass(frozen=True, slots=True)
class DeferredSettlement:
    """Postings an asynchronous settlement worker applies later, lowest `order` first."""

    kind: SettlementKind
    order: int
    postings: tuple[Posting, ...]


@dataclass(frozen=True, slots=True)
class GeneralPayPlan:
    postings: tuple[Posting, ...]
    deferred: tuple[DeferredSettlement, ...]
    seller_net: Money
    wallet_fee: Money
    marketing: MarketingSolution | None


@dataclass(frozen=True, slots=True)
class _Fee:
    amount: Money
    account_id: str
    fee_type: FeeType
    settlement: SettlementType


@dataclass(frozen=True, slots=True)
class _Hop:
    source: str
    target: str
    amount: Money
    kind: FlowKind
    memo: str


def plan_general_pay(cmd: GeneralPayCommand, accounts: Mapping[str, AccountView]) -> GeneralPayPlan:
    """Validate `cmd` against `accounts` and return the ledger flows it books, now and later."""
    currency = _check_amounts(cmd)
    _check_parties(cmd, accounts, currency)
    fee = _resolve_fee(cmd, accounts, currency)
    _check_buyer_fee(cmd, accounts, currency)
    hops, wallet_fee = _fee_hops(cmd, fee, currency)
    _check_solution_accounts(cmd, accounts, currency, fee)
    shares = _total((s.amount for s in cmd.profit_shares), currency)
    _check_profit_shares(cmd, fee, shares)

    buyer, seller = cmd.buyer_account_id, cmd.seller_account_id
    realtime = cmd.settlement_type is SettlementType.REALTIME
    trade_sub = SubAccount.AVAILABLE if realtime else SubAccount.PENDING
    now: list[Posting] = [
        *transfer(
            buyer, seller, cmd.cash_amount, FlowKind.TRANSFER, target_sub=trade_sub, memo="trade"
        ),
    ]
    share_postings = [
        leg
        for share in cmd.profit_shares
        for leg in transfer(
            seller,
            share.account_id,
            share.amount,
            FlowKind.PROFIT_SHARE,
            source_sub=trade_sub,
            memo="profit share",
        )
    ]
    fee_postings = [
        leg
        for hop in hops
        for leg in transfer(hop.source, hop.target, hop.amount, hop.kind, memo=hop.memo)
    ]
    deferred: list[DeferredSettlement] = []
    if realtime:
        now.extend(share_postings)
    else:
        settled = cmd.cash_amount - shares
        trade_legs = list(share_postings)
        if settled.minor:
            trade_legs[:0] = transfer(
                seller,
                seller,
                settled,
                FlowKind.SETTLEMENT,
                source_sub=SubAccount.PENDING,
                memo="trade settlement",
            )
        deferred.append(_deferred(SettlementKind.TRADE, TRADE_SETTLEMENT_ORDER, trade_legs))
    if fee_postings:
        if fee is not None and fee.settlement is SettlementType.REALTIME:
            now.extend(fee_postings)
        else:
            deferred.append(_deferred(SettlementKind.FEE, FEE_SETTLEMENT_ORDER, fee_postings))
    if cmd.buyer_fee is not None:
        now.extend(
            transfer(
                buyer,
                cmd.buyer_fee.account_id,
                cmd.buyer_fee.amount,
                FlowKind.BUYER_FEE,
                memo="buyer fee",
            )
        )
    check_balanced(now)
    fee_amount = fee.amount if fee is not None else Money.zero(currency)
    return GeneralPayPlan(
        postings=tuple(now),
        deferred=tuple(deferred),
        seller_net=cmd.cash_amount - fee_amount - shares,
        wallet_fee=wallet_fee,
        marketing=cmd.marketing,
    )


def _deferred(kind: SettlementKind, order: int, legs: list[Posting]) -> DeferredSettlement:
    check_balanced(legs)
    return DeferredSettlement(kind=kind, order=order, postings=tuple(legs))


def _total(amounts: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total


# -- amounts -------------------------------------------------------------------------------------


def _amounts(cmd: GeneralPayCommand) -> Iterator[tuple[str, Money, bool]]:
    """Every amount of the command as (field, money, zero allowed)."""
    yield "cash_amount", cmd.cash_amount, False
    if cmd.fee is not None:
        yield "fee.fee_amount", cmd.fee.fee_amount, True
    if cmd.buyer_fee is not None:
        yield "buyer_fee.amount", cmd.buyer_fee.amount, False
    for i, merchant in enumerate(cmd.upper_merchants):
        yield f"upper_merchants[{i}].fee_amount", merchant.fee_amount, True
        yield f"upper_merchants[{i}].fee_plus_amount", merchant.fee_plus_amount, True
    for i, share in enumerate(cmd.profit_shares):
        yield f"profit_shares[{i}].amount", share.amount, False
    if cmd.marketing is not None:
        yield "marketing.amount", cmd.marketing.amount, True


def _check_amounts(cmd: GeneralPayCommand) -> str:
    """All amounts in the cash amount's currency and of the right sign; returns the currency."""
    currency = check_currency(cmd.cash_amount.currency, field="cash_amount")
    amounts = list(_amounts(cmd))
    for field, money, _ in amounts:
        if money.currency != currency:
            raise InvalidArgument(
                f"{field} is in {money.currency}; give every amount in the payment's {currency}",
                field=field,
                code="CURRENCY_MISMATCH",
            )
    for field, money, zero_allowed in amounts:
        if money.minor < 0 or (money.minor == 0 and not zero_allowed):
            bound = "zero or more" if zero_allowed else "greater than zero"
            raise InvalidArgument(
                f"{field} is {money}; it must be {bound}", field=field, code="INVALID_AMOUNT"
            )
    return currency


# -- accounts ------------------------------------------------------------------------------------


def _check_parties(
    cmd: GeneralPayCommand, accounts: Mapping[str, AccountView], currency: str
) -> None:
    if cmd.buyer_account_id == cmd.seller_account_id:
        raise InvalidArgument(
            "buyer and seller are the same account; name two different ones",
            field="seller_account_id",
            code="PAYER_PAYEE_SAME",
        )
    for field, account_id in (
        ("buyer_account_id", cmd.buyer_account_id),
        ("seller_account_id", cmd.seller_account_id),
    ):
        account = accounts.get(account_id)
        if account is None:
            raise BusinessRuleViolation(
                f"account {account_id} does not exist; name an existing account",
                field=field,
                code="ACCOUNT_NOT_FOUND",
            )
        if account.status is not AccountStatus.NORMAL:
            raise BusinessRuleViolation(
                f"account {account_id} is {account.status}; only a normal account can trade",
                field=field,
                code="ACCOUNT_NOT_NORMAL",
            )
        _check_account_currency(account, currency, field)


def _check_account_currency(account: AccountView, currency: str, field: str) -> None:
    if account.currency != currency:
        raise BusinessRuleViolation(
            f"account {account.id} holds {account.currency}, not the payment's {currency}",
            field=field,
            code="ACCOUNT_CURRENCY_MISMATCH",
        )


def _check_receiving_account(
    cmd: GeneralPayCommand,
    accounts: Mapping[str, AccountView],
    account_id: str,
    currency: str,
    *,
    field: str,
    prefix: str,
    label: str,
) -> None:
    """Seed rules for the fee and buyer-fee accounts: exist, are C accounts, are no party."""
    account = accounts.get(account_id)
    if account is None:
        raise BusinessRuleViolation(
            f"{label} {account_id} does not exist; name an existing one",
            field=field,
            code=f"{prefix}_NOT_FOUND",
        )
    if account.kind is not AccountKind.CUSTOMER:
        raise BusinessRuleViolation(
            f"{label} {account_id} is a {account.kind} account; finance requires a C account",
            field=field,
            code=f"{prefix}_NOT_CUSTOMER",
        )
    if account_id in (cmd.buyer_account_id, cmd.seller_account_id):
        raise BusinessRuleViolation(
            f"{label} {account_id} is the buyer or the seller; name a third account",
            field=field,
            code=f"{prefix}_IS_PARTY",
        )
    _check_account_currency(account, currency, field)


def _resolve_fee(
    cmd: GeneralPayCommand, accounts: Mapping[str, AccountView], currency: str
) -> _Fee | None:
    terms = cmd.fee
    if terms is None:
        return None
    given = [
        terms.fee_type is not None,
        terms.fee_settlement_type is not None,
        terms.pay_mode is not None,
    ]
    if any(given) and not all(given):
        raise InvalidArgument(
            "fee.fee_type, fee.fee_settlement_type and fee.pay_mode go together: give all three "
            "or none",
            field="fee",
            code="FEE_TERMS_INCOMPLETE",
        )
    if cmd.cash_amount < terms.fee_amount:
        raise BusinessRuleViolation(
            f"fee {terms.fee_amount} exceeds the cash amount {cmd.cash_amount}; lower the fee",
            field="fee.fee_amount",
            code="FEE_EXCEEDS_AMOUNT",
        )
    fee = _Fee(
        terms.fee_amount,
        terms.fee_account_id,
        terms.fee_type or FeeType.DEDUCTED,
        terms.fee_settlement_type or cmd.settlement_type,
    )
    if fee.settlement is SettlementType.REALTIME:
        if fee.fee_type is FeeType.COLLECT_LATER:
            raise BusinessRuleViolation(
                "a fee collected later cannot be settled in real time; settle it asynchronously "
                "or deduct it",
                field="fee.fee_settlement_type",
                code="FEE_SETTLEMENT_CONFLICT",
            )
        if cmd.settlement_type is SettlementType.ASYNC:
            raise BusinessRuleViolation(
                "an asynchronous trade needs an asynchronous fee settlement: the trade must settle "
                "before its fee",
                field="fee.fee_settlement_type",
                code="FEE_SETTLEMENT_CONFLICT",
            )
    _check_receiving_account(
        cmd,
        accounts,
        fee.account_id,
        currency,
        field="fee.fee_account_id",
        prefix="FEE_ACCOUNT",
        label="fee account",
    )
    return fee


def _check_buyer_fee(
    cmd: GeneralPayCommand, accounts: Mapping[str, AccountView], currency: str
) -> None:
    if cmd.buyer_fee is not None:
        _check_receiving_account(
            cmd,
            accounts,
            cmd.buyer_fee.account_id,
            currency,
            field="buyer_fee.account_id",
            prefix="BUYER_FEE_ACCOUNT",
            label="buyer fee account",
        )


def _solution_accounts(cmd: GeneralPayCommand) -> Iterator[tuple[str, str]]:
    for i, merchant in enumerate(cmd.upper_merchants):
        yield f"upper_merchants[{i}].account_id", merchant.account_id
    for i, share in enumerate(cmd.profit_shares):
        yield f"profit_shares[{i}].account_id", share.account_id


def _check_solution_accounts(
    cmd: GeneralPayCommand, accounts: Mapping[str, AccountView], currency: str, fee: _Fee | None
) -> None:
    """Accounts named by the fee and profit-sharing solutions: exist, normal, no party."""
    parties = (cmd.buyer_account_id, cmd.seller_account_id)
    for field, account_id in _solution_accounts(cmd):
        account = accounts.get(account_id)
        if account is None:
            problem = "does not exist"
        elif account.status is not AccountStatus.NORMAL:
            problem = f"is {account.status}, not normal"
        elif account_id in parties:
            problem = "is the buyer or the seller"
        else:
            _check_account_currency(account, currency, field)
            continue
        raise BusinessRuleViolation(
            f"solution account {account_id} {problem}; name another",
            field=field,
            code="SOLUTION_ACCOUNT_INVALID",
        )
    for i, merchant in enumerate(cmd.upper_merchants):
        # The wallet passing the fee to itself would hide which hop kept what.
        if fee is not None and merchant.account_id == fee.account_id:
            raise BusinessRuleViolation(
                f"upper merchant {merchant.account_id} is the fee account; name another",
                field=f"upper_merchants[{i}].account_id",
                code="SOLUTION_ACCOUNT_INVALID",
            )


# -- fee chain -----------------------------------------------------------------------------------


def _check_merchant_shape(cmd: GeneralPayCommand) -> None:
    merchants = cmd.upper_merchants
    if len(merchants) > MAX_UPPER_MERCHANTS or len(cmd.fee_solution) != len(merchants):
        raise InvalidArgument(
            f"{len(merchants)} upper merchants and {len(cmd.fee_solution)} fee solution accounts; "
            f"give at most {MAX_UPPER_MERCHANTS} merchants and name each once in fee_solution",
            field="upper_merchants",
            code="UPPER_MERCHANT_COUNT_INVALID",
        )
    if merchants and cmd.fee is None:
        raise InvalidArgument(
            "upper merchants share a fee; give fee terms or no upper merchants",
            field="upper_merchants",
            code="UPPER_MERCHANT_WITHOUT_FEE",
        )
    ids = [m.account_id for m in merchants]
    if len(set(ids)) != len(ids):
        raise InvalidArgument(
            "an account is named at two merchant levels; name each once",
            field="upper_merchants",
            code="UPPER_MERCHANT_DUPLICATE",
        )
    levels = tuple(sorted(int(m.level) for m in merchants))
    if levels not in _VALID_LEVELS[len(merchants)]:
        raise InvalidArgument(
            f"merchant levels {levels}; two levels need one middle (1) and one top (2) merchant",
            field="upper_merchants",
            code="UPPER_MERCHANT_LEVELS_INVALID",
        )
    for i, account_id in enumerate(cmd.fee_solution):
        if account_id not in ids:
            raise InvalidArgument(
                f"fee solution account {account_id} is none of the upper merchants; name theirs",
                field=f"fee_solution[{i}]",
                code="FEE_SOLUTION_MERCHANT_UNKNOWN",
            )
    for i, account_id in enumerate(ids):
        if account_id not in cmd.fee_solution:
            raise InvalidArgument(
                f"upper merchant {account_id} is missing from the fee solution; name it there",
                field=f"upper_merchants[{i}].account_id",
                code="FEE_SOLUTION_MERCHANT_MISSING",
            )


def _fee_hops(cmd: GeneralPayCommand, fee: _Fee | None, currency: str) -> tuple[list[_Hop], Money]:
    """The fee's path up the agent chain to the wallet, and what the wallet receives."""
    _check_merchant_shape(cmd)
    if fee is None:
        return [], Money.zero(currency)
    seller, wallet = cmd.seller_account_id, fee.account_id
    by_level = {m.level: (i, m) for i, m in enumerate(cmd.upper_merchants)}
    if not by_level:
        chain: list[tuple[str, Money]] = [(wallet, fee.amount)]
    elif len(by_level) == 1:
        [(i, top)] = by_level.values()
        _require_fee_plus(i, top, Money.zero(currency), "the only level")
        _require_within(i, top, fee.amount, "the fee")
        chain = [(top.account_id, fee.amount), (wallet, top.fee_amount)]
    else:
        j, middle = by_level[MerchantLevel.MIDDLE]
        i, top = by_level[MerchantLevel.TOP]
        _require_fee_plus(i, top, middle.fee_amount, "what the middle merchant passes up")
        _require_within(j, middle, fee.amount, "the fee")
        _require_within(i, top, middle.fee_amount, "the middle merchant's fee_amount")
        chain = [
            (middle.account_id, fee.amount),
            (top.account_id, middle.fee_amount),
            (wallet, top.fee_amount),
        ]
    hops: list[_Hop] = []
    source = seller
    for n, (target, amount) in enumerate(chain):
        kind = FlowKind.FEE if n == 0 else FlowKind.FEE_SHARE
        if amount.minor:
            hops.append(_Hop(source, target, amount, kind, "fee" if n == 0 else "fee share"))
        source = target
    return hops, chain[-1][1]


def _require_fee_plus(i: int, merchant: UpperMerchant, expected: Money, what: str) -> None:
    if merchant.fee_plus_amount != expected:
        raise BusinessRuleViolation(
            f"top merchant fee_plus_amount is {merchant.fee_plus_amount}; it must equal {what} "
            f"({expected})",
            field=f"upper_merchants[{i}].fee_plus_amount",
            code="UPPER_MERCHANT_FEE_PLUS_INVALID",
        )


def _require_within(i: int, merchant: UpperMerchant, received: Money, what: str) -> None:
    if received < merchant.fee_amount:
        raise BusinessRuleViolation(
            f"upper merchant {merchant.account_id} passes on {merchant.fee_amount}, more than "
            f"{what} it receives ({received}); lower its fee_amount",
            field=f"upper_merchants[{i}].fee_amount",
            code="UPPER_MERCHANT_FEE_EXCEEDS",
        )


# -- profit sharing ------------------------------------------------------------------------------


def _check_profit_shares(cmd: GeneralPayCommand, fee: _Fee | None, shares: Money) -> None:
    received = cmd.cash_amount
    if fee is not None and fee.fee_type is FeeType.DEDUCTED:
        received = received - fee.amount
    if received < shares:
        raise BusinessRuleViolation(
            f"profit shares total {shares}, more than the seller receives ({received}); "
            f"lower the shares",
            field="profit_shares",
            code="PROFIT_SHARE_EXCEEDS",
        )

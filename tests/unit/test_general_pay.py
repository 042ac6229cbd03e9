"""Specification of the seed-003 general pay transaction rules (core.general_pay)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BusinessRuleViolation, DomainError, InvalidArgument, NotFound
from core.general_pay.model import (
    ERROR_CODES,
    BuyerFee,
    FeeTerms,
    FeeType,
    GeneralPayCommand,
    GeneralPayPlan,
    MarketingSolution,
    MerchantLevel,
    ProfitShare,
    SettlementKind,
    SettlementType,
    UpperMerchant,
)
from core.general_pay.plan import plan_general_pay
from core.ledger import (
    AccountKind,
    AccountStatus,
    AccountView,
    FlowKind,
    Posting,
    SubAccount,
    check_balanced,
)
from core.money import Money

AVAILABLE, PENDING = SubAccount.AVAILABLE, SubAccount.PENDING
REALTIME, ASYNC = SettlementType.REALTIME, SettlementType.ASYNC
DEDUCTED, COLLECT_LATER = FeeType.DEDUCTED, FeeType.COLLECT_LATER
MIDDLE, TOP = MerchantLevel.MIDDLE, MerchantLevel.TOP


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def account(
    account_id: str,
    kind: AccountKind = AccountKind.MERCHANT,
    *,
    currency: str = "CNY",
    status: AccountStatus = AccountStatus.NORMAL,
) -> AccountView:
    return AccountView(account_id, f"owner-{account_id}", kind, currency, status)


def book(currency: str = "CNY", /, **overrides: AccountView) -> dict[str, AccountView]:
    """The accounts every example uses; override one to break it."""
    accounts = {
        "buyer": account("buyer", AccountKind.CUSTOMER, currency=currency),
        "seller": account("seller", currency=currency),
        "wallet": account("wallet", AccountKind.CUSTOMER, currency=currency),
        "bfee": account("bfee", AccountKind.CUSTOMER, currency=currency),
        "mid": account("mid", currency=currency),
        "top": account("top", currency=currency),
        "share1": account("share1", currency=currency),
        "share2": account("share2", AccountKind.CUSTOMER, currency=currency),
        "company": account("company", AccountKind.COMPANY, currency=currency),
    }
    accounts.update(overrides)
    return accounts


def pay(cash: int = 10_000, /, **fields: object) -> GeneralPayCommand:
    return GeneralPayCommand("buyer", "seller", cny(cash), **fields)  # type: ignore[arg-type]


def fee(amount: int = 300, account_id: str = "wallet", **fields: object) -> FeeTerms:
    return FeeTerms(cny(amount), account_id, **fields)  # type: ignore[arg-type]


def explicit_fee(amount: int, fee_type: FeeType, settlement: SettlementType) -> FeeTerms:
    return fee(amount, fee_type=fee_type, fee_settlement_type=settlement, pay_mode="balance")


def merchant(account_id: str, level: MerchantLevel, fee_amount: int, fee_plus: int = 0) -> UpperMerchant:
    return UpperMerchant(account_id, level, cny(fee_amount), cny(fee_plus))


def two_levels(
    fee_amount: int = 300, middle_fee: int = 200, top_fee: int = 120, top_plus: int | None = None
) -> dict[str, object]:
    return {
        "fee": fee(fee_amount),
        "upper_merchants": (
            merchant("mid", MIDDLE, middle_fee),
            merchant("top", TOP, top_fee, middle_fee if top_plus is None else top_plus),
        ),
        "fee_solution": ("mid", "top"),
    }


def legs(postings: Iterable[Posting]) -> set[tuple[str, SubAccount, int, FlowKind]]:
    return {(p.account_id, p.sub_account, p.amount.minor, p.kind) for p in postings}


def all_postings(plan: GeneralPayPlan) -> list[Posting]:
    return [*plan.postings, *(p for d in plan.deferred for p in d.postings)]


def net(postings: Iterable[Posting], *, kinds: Iterable[FlowKind] | None = None) -> dict[str, int]:
    """Net minor units per account over all sub-accounts, optionally for some flow kinds only."""
    wanted = set(kinds) if kinds is not None else set(FlowKind)
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        if p.kind in wanted:
            totals[p.account_id] += p.amount.minor
    return {account_id: total for account_id, total in totals.items() if total}


# -- trade settlement --------------------------------------------------------------------------


def test_realtime_trade_credits_the_seller_available_sub_account_at_once() -> None:
    plan = plan_general_pay(pay(10_000), book())

    assert legs(plan.postings) == {
        ("buyer", AVAILABLE, -10_000, FlowKind.TRANSFER),
        ("seller", AVAILABLE, 10_000, FlowKind.TRANSFER),
    }
    assert plan.deferred == ()
    assert plan.seller_net == cny(10_000)
    assert plan.wallet_fee == cny(0)


def test_async_trade_credits_pending_now_and_defers_moving_it_to_available() -> None:
    plan = plan_general_pay(pay(10_000, settlement_type=ASYNC), book())

    assert legs(plan.postings) == {
        ("buyer", AVAILABLE, -10_000, FlowKind.TRANSFER),
        ("seller", PENDING, 10_000, FlowKind.TRANSFER),
    }
    [trade] = plan.deferred
    assert trade.kind == "trade"
    assert legs(trade.postings) == {
        ("seller", PENDING, -10_000, FlowKind.SETTLEMENT),
        ("seller", AVAILABLE, 10_000, FlowKind.SETTLEMENT),
    }


# -- fee type and fee settlement ---------------------------------------------------------------


def test_deducted_realtime_fee_is_taken_from_the_seller_with_the_trade() -> None:
    plan = plan_general_pay(pay(10_000, fee=fee(300)), book())

    assert legs(plan.postings) == {
        ("buyer", AVAILABLE, -10_000, FlowKind.TRANSFER),
        ("seller", AVAILABLE, 10_000, FlowKind.TRANSFER),
        ("seller", AVAILABLE, -300, FlowKind.FEE),
        ("wallet", AVAILABLE, 300, FlowKind.FEE),
    }
    assert plan.deferred == ()
    assert plan.seller_net == cny(9_700)
    assert plan.wallet_fee == cny(300)


def test_fee_terms_without_type_default_to_deducted_at_the_trade_settlement_type() -> None:
    implicit = plan_general_pay(pay(10_000, fee=fee(300)), book())
    explicit = plan_general_pay(pay(10_000, fee=explicit_fee(300, DEDUCTED, REALTIME)), book())

    assert implicit == explicit


def test_collect_later_fee_is_a_deferred_fee_settlement() -> None:
    plan = plan_general_pay(pay(10_000, fee=explicit_fee(300, COLLECT_LATER, ASYNC)), book())

    assert legs(plan.postings) == {
        ("buyer", AVAILABLE, -10_000, FlowKind.TRANSFER),
        ("seller", AVAILABLE, 10_000, FlowKind.TRANSFER),
    }
    [fee_settlement] = plan.deferred
    assert fee_settlement.kind == "fee"
    assert legs(fee_settlement.postings) == {
        ("seller", AVAILABLE, -300, FlowKind.FEE),
        ("wallet", AVAILABLE, 300, FlowKind.FEE),
    }
    assert plan.seller_net == cny(9_700)


def test_deducted_fee_with_async_fee_settlement_is_deferred_too() -> None:
    plan = plan_general_pay(pay(10_000, fee=explicit_fee(300, DEDUCTED, ASYNC)), book())

    assert [d.kind for d in plan.deferred] == [SettlementKind.FEE]
    assert net(plan.postings) == {"buyer": -10_000, "seller": 10_000}


def test_async_trade_settles_before_its_fee() -> None:
    plan = plan_general_pay(pay(10_000, settlement_type=ASYNC, fee=fee(300)), book())

    trade, fee_settlement = sorted(plan.deferred, key=lambda d: d.order)
    assert (trade.kind, fee_settlement.kind) == ("trade", "fee")
    assert trade.order < fee_settlement.order
    assert legs(fee_settlement.postings) == {
        ("seller", AVAILABLE, -300, FlowKind.FEE),
        ("wallet", AVAILABLE, 300, FlowKind.FEE),
    }


def test_zero_fee_books_no_fee_flows() -> None:
    plan = plan_general_pay(pay(10_000, settlement_type=ASYNC, fee=fee(0)), book())

    assert all(p.kind is not FlowKind.FEE for p in all_postings(plan))
    assert [d.kind for d in plan.deferred] == [SettlementKind.TRADE]
    assert plan.wallet_fee == cny(0)
    assert plan.seller_net == cny(10_000)


def test_zero_fee_does_not_check_its_fee_account() -> None:
    # seed: the fee account is checked only when `0 != info.fee_amount`
    plan = plan_general_pay(pay(10_000, fee=fee(0, "ghost")), book())

    assert plan.wallet_fee == cny(0)
    assert net(plan.postings) == {"buyer": -10_000, "seller": 10_000}


def test_nonzero_fee_still_checks_its_fee_account() -> None:
    with pytest.raises(BusinessRuleViolation) as caught:
        plan_general_pay(pay(10_000, fee=fee(1, "ghost")), book())

    assert caught.value.code == "FEE_ACCOUNT_NOT_FOUND"


def test_zero_buyer_fee_is_no_buyer_fee_and_its_account_is_not_checked() -> None:
    # seed: a buyer fee is included only `if (input_buyer_fee_amount > 0)`
    plan = plan_general_pay(pay(10_000, buyer_fee=BuyerFee(cny(0), "ghost")), book())

    assert all(p.kind is not FlowKind.BUYER_FEE for p in plan.postings)
    assert net(plan.postings) == {"buyer": -10_000, "seller": 10_000}


def test_fee_equal_to_the_cash_amount_is_allowed() -> None:
    plan = plan_general_pay(pay(10_000, fee=fee(10_000)), book())

    assert plan.seller_net == cny(0)


# -- upper merchants ---------------------------------------------------------------------------


@pytest.mark.parametrize("level", [MIDDLE, TOP])
def test_one_level_merchant_keeps_its_margin_and_passes_its_fee_amount_to_the_wallet(
    level: MerchantLevel,
) -> None:
    plan = plan_general_pay(
        pay(10_000, fee=fee(300), upper_merchants=(merchant("top", level, 180),), fee_solution=("top",)),
        book(),
    )

    assert legs(plan.postings) >= {
        ("seller", AVAILABLE, -300, FlowKind.FEE),
        ("top", AVAILABLE, 300, FlowKind.FEE),
        ("top", AVAILABLE, -180, FlowKind.FEE_SHARE),
        ("wallet", AVAILABLE, 180, FlowKind.FEE_SHARE),
    }
    assert net(plan.postings) == {"buyer": -10_000, "seller": 9_700, "top": 120, "wallet": 180}
    assert plan.wallet_fee == cny(180)


def test_two_level_chain_passes_the_fee_seller_to_middle_to_top_to_wallet() -> None:
    plan = plan_general_pay(pay(10_000, **two_levels(300, 200, 120)), book())

    assert legs(plan.postings) >= {
        ("seller", AVAILABLE, -300, FlowKind.FEE),
        ("mid", AVAILABLE, 300, FlowKind.FEE),
        ("mid", AVAILABLE, -200, FlowKind.FEE_SHARE),
        ("top", AVAILABLE, 200, FlowKind.FEE_SHARE),
        ("top", AVAILABLE, -120, FlowKind.FEE_SHARE),
        ("wallet", AVAILABLE, 120, FlowKind.FEE_SHARE),
    }
    assert net(plan.postings) == {
        "buyer": -10_000,
        "seller": 9_700,
        "mid": 100,
        "top": 80,
        "wallet": 120,
    }
    assert plan.wallet_fee == cny(120)


def test_two_level_chain_does_not_depend_on_the_order_merchants_are_listed_in() -> None:
    cmd = pay(10_000, **two_levels(300, 200, 120))
    swapped = replace(cmd, upper_merchants=cmd.upper_merchants[::-1], fee_solution=("top", "mid"))

    assert net(plan_general_pay(swapped, book()).postings) == net(plan_general_pay(cmd, book()).postings)


def test_merchant_passing_on_its_whole_receipt_books_no_zero_hop() -> None:
    plan = plan_general_pay(pay(10_000, **two_levels(300, 300, 0, top_plus=300)), book())

    assert all(p.amount.minor != 0 for p in plan.postings)
    assert net(plan.postings) == {"buyer": -10_000, "seller": 9_700, "top": 300}
    assert plan.wallet_fee == cny(0)


def test_collect_later_fee_travels_the_merchant_chain_in_the_deferred_fee_settlement() -> None:
    cmd = replace(pay(10_000, **two_levels(300, 200, 120)), fee=explicit_fee(300, COLLECT_LATER, ASYNC))
    plan = plan_general_pay(cmd, book())

    [fee_settlement] = plan.deferred
    assert net(fee_settlement.postings) == {"seller": -300, "mid": 100, "top": 80, "wallet": 120}


# -- buyer fee, profit sharing, marketing ------------------------------------------------------


def test_buyer_fee_is_paid_by_the_buyer_in_real_time() -> None:
    plan = plan_general_pay(
        pay(10_000, settlement_type=ASYNC, fee=fee(300), buyer_fee=BuyerFee(cny(50), "bfee")), book()
    )

    assert ("buyer", AVAILABLE, -50, FlowKind.BUYER_FEE) in legs(plan.postings)
    assert ("bfee", AVAILABLE, 50, FlowKind.BUYER_FEE) in legs(plan.postings)
    assert plan.seller_net == cny(9_700)


def test_realtime_profit_shares_leave_the_seller_available_sub_account_with_the_trade() -> None:
    plan = plan_general_pay(
        pay(
            10_000,
            fee=fee(300),
            profit_shares=(ProfitShare("share1", cny(1_000)), ProfitShare("share2", cny(700))),
        ),
        book(),
    )

    assert legs(plan.postings) >= {
        ("seller", AVAILABLE, -1_000, FlowKind.PROFIT_SHARE),
        ("share1", AVAILABLE, 1_000, FlowKind.PROFIT_SHARE),
        ("seller", AVAILABLE, -700, FlowKind.PROFIT_SHARE),
        ("share2", AVAILABLE, 700, FlowKind.PROFIT_SHARE),
    }
    assert plan.seller_net == cny(8_000)


def test_async_profit_shares_leave_the_seller_pending_sub_account_in_the_trade_settlement() -> None:
    plan = plan_general_pay(
        pay(10_000, settlement_type=ASYNC, profit_shares=(ProfitShare("share1", cny(1_000)),)),
        book(),
    )

    assert all(p.kind is not FlowKind.PROFIT_SHARE for p in plan.postings)
    [trade] = plan.deferred
    assert legs(trade.postings) == {
        ("seller", PENDING, -9_000, FlowKind.SETTLEMENT),
        ("seller", AVAILABLE, 9_000, FlowKind.SETTLEMENT),
        ("seller", PENDING, -1_000, FlowKind.PROFIT_SHARE),
        ("share1", AVAILABLE, 1_000, FlowKind.PROFIT_SHARE),
    }


def test_profit_shares_may_take_all_the_seller_keeps_after_a_deducted_fee() -> None:
    plan = plan_general_pay(
        pay(10_000, fee=fee(300), profit_shares=(ProfitShare("share1", cny(9_700)),)), book()
    )

    assert plan.seller_net == cny(0)


def test_profit_shares_are_limited_by_the_cash_amount_when_the_fee_is_collected_later() -> None:
    plan = plan_general_pay(
        pay(
            10_000,
            fee=explicit_fee(300, COLLECT_LATER, ASYNC),
            profit_shares=(ProfitShare("share1", cny(10_000)),),
        ),
        book(),
    )

    assert plan.seller_net == cny(-300)


def test_async_trade_fully_shared_settles_only_the_shares() -> None:
    plan = plan_general_pay(
        pay(10_000, settlement_type=ASYNC, profit_shares=(ProfitShare("share1", cny(10_000)),)),
        book(),
    )

    [trade] = plan.deferred
    assert net(trade.postings) == {"seller": -10_000, "share1": 10_000}


def test_marketing_solution_is_carried_into_the_plan_and_not_booked() -> None:
    marketing = MarketingSolution("mkt-7", cny(500))
    plan = plan_general_pay(pay(10_000, marketing=marketing), book())

    assert plan.marketing is marketing
    assert net(plan.postings) == {"buyer": -10_000, "seller": 10_000}


# -- validations: every code, broken on purpose ------------------------------------------------

Breaker = Callable[[], tuple[GeneralPayCommand, dict[str, AccountView]]]


def broken(cmd: GeneralPayCommand, **overrides: AccountView) -> Breaker:
    return lambda: (cmd, book(**overrides))


FROZEN = AccountStatus.FROZEN
BROKEN_RULES: list[tuple[str, Breaker, str, str | None, type[DomainError]]] = [
    # (behaviour, breaker, code, field, error class)
    ("cash must be positive", broken(pay(0)), "INVALID_AMOUNT", "cash_amount", InvalidArgument),
    ("cash may not be negative", broken(pay(-1)), "INVALID_AMOUNT", "cash_amount", InvalidArgument),
    (
        "fee may not be negative",
        broken(pay(fee=fee(-1))),
        "INVALID_AMOUNT",
        "fee.fee_amount",
        InvalidArgument,
    ),
    (
        "buyer fee may not be negative",
        broken(pay(buyer_fee=BuyerFee(cny(-1), "bfee"))),
        "INVALID_AMOUNT",
        "buyer_fee.amount",
        InvalidArgument,
    ),
    (
        "profit share must be positive",
        broken(pay(profit_shares=(ProfitShare("share1", cny(0)),))),
        "INVALID_AMOUNT",
        "profit_shares[0].amount",
        InvalidArgument,
    ),
    (
        "merchant fee may not be negative",
        broken(pay(fee=fee(300), upper_merchants=(merchant("top", TOP, -1),), fee_solution=("top",))),
        "INVALID_AMOUNT",
        "upper_merchants[0].fee_amount",
        InvalidArgument,
    ),
    (
        "marketing amount may not be negative",
        broken(pay(marketing=MarketingSolution("m", cny(-1)))),
        "INVALID_AMOUNT",
        "marketing.amount",
        InvalidArgument,
    ),
    (
        "payment currency must be supported",
        broken(GeneralPayCommand("buyer", "seller", Money(100, "XXX"))),
        "UNSUPPORTED_CURRENCY",
        "cash_amount",
        InvalidArgument,
    ),
    (
        "fee in another currency",
        broken(pay(fee=FeeTerms(Money(1, "USD"), "wallet"))),
        "CURRENCY_MISMATCH",
        "fee.fee_amount",
        InvalidArgument,
    ),
    (
        "profit share in another currency",
        broken(pay(profit_shares=(ProfitShare("share1", Money(1, "USD")),))),
        "CURRENCY_MISMATCH",
        "profit_shares[0].amount",
        InvalidArgument,
    ),
    (
        "marketing in another currency",
        broken(pay(marketing=MarketingSolution("m", Money(1, "JPY")))),
        "CURRENCY_MISMATCH",
        "marketing.amount",
        InvalidArgument,
    ),
    (
        "buyer pays itself",
        broken(GeneralPayCommand("buyer", "buyer", cny(100))),
        "PAYER_PAYEE_SAME",
        "seller_account_id",
        InvalidArgument,
    ),
    (
        "buyer must exist",
        broken(GeneralPayCommand("ghost", "seller", cny(100))),
        "ACCOUNT_NOT_FOUND",
        "buyer_account_id",
        NotFound,
    ),
    (
        "seller must exist",
        broken(GeneralPayCommand("buyer", "ghost", cny(100))),
        "ACCOUNT_NOT_FOUND",
        "seller_account_id",
        NotFound,
    ),
    (
        "buyer must be normal",
        broken(pay(), buyer=account("buyer", AccountKind.CUSTOMER, status=FROZEN)),
        "ACCOUNT_NOT_NORMAL",
        "buyer_account_id",
        BusinessRuleViolation,
    ),
    (
        "seller must be normal",
        broken(pay(), seller=account("seller", status=FROZEN)),
        "ACCOUNT_NOT_NORMAL",
        "seller_account_id",
        BusinessRuleViolation,
    ),
    (
        "seller must hold the payment currency",
        broken(pay(), seller=account("seller", currency="USD")),
        "ACCOUNT_CURRENCY_MISMATCH",
        "seller_account_id",
        BusinessRuleViolation,
    ),
    (
        "fee account must hold the payment currency",
        broken(pay(fee=fee()), wallet=account("wallet", AccountKind.CUSTOMER, currency="USD")),
        "ACCOUNT_CURRENCY_MISMATCH",
        "fee.fee_account_id",
        BusinessRuleViolation,
    ),
    (
        "fee above the cash amount",
        broken(pay(100, fee=fee(101))),
        "FEE_EXCEEDS_AMOUNT",
        "fee.fee_amount",
        BusinessRuleViolation,
    ),
    (
        "fee type without settlement type and pay mode",
        broken(pay(fee=fee(fee_type=DEDUCTED))),
        "FEE_TERMS_INCOMPLETE",
        "fee",
        InvalidArgument,
    ),
    (
        "pay mode without fee type",
        broken(pay(fee=fee(fee_settlement_type=REALTIME, pay_mode="balance"))),
        "FEE_TERMS_INCOMPLETE",
        "fee",
        InvalidArgument,
    ),
    (
        "realtime fee collected later",
        broken(pay(fee=explicit_fee(300, COLLECT_LATER, REALTIME))),
        "FEE_SETTLEMENT_CONFLICT",
        "fee.fee_settlement_type",
        BusinessRuleViolation,
    ),
    (
        "async trade with realtime fee",
        broken(pay(settlement_type=ASYNC, fee=explicit_fee(300, DEDUCTED, REALTIME))),
        "FEE_SETTLEMENT_CONFLICT",
        "fee.fee_settlement_type",
        BusinessRuleViolation,
    ),
    (
        "fee account must exist",
        broken(pay(fee=fee(account_id="ghost"))),
        "FEE_ACCOUNT_NOT_FOUND",
        "fee.fee_account_id",
        BusinessRuleViolation,
    ),
    (
        "fee account must be a C account",
        broken(pay(fee=fee(account_id="company"))),
        "FEE_ACCOUNT_NOT_CUSTOMER",
        "fee.fee_account_id",
        BusinessRuleViolation,
    ),
    (
        "fee account may not be the buyer",
        broken(pay(fee=fee(account_id="buyer"))),
        "FEE_ACCOUNT_IS_PARTY",
        "fee.fee_account_id",
        BusinessRuleViolation,
    ),
    (
        "fee account may not be the seller",
        broken(pay(fee=fee(account_id="seller")), seller=account("seller", AccountKind.CUSTOMER)),
        "FEE_ACCOUNT_IS_PARTY",
        "fee.fee_account_id",
        BusinessRuleViolation,
    ),
    (
        "buyer fee account must exist",
        broken(pay(buyer_fee=BuyerFee(cny(5), "ghost"))),
        "BUYER_FEE_ACCOUNT_NOT_FOUND",
        "buyer_fee.account_id",
        BusinessRuleViolation,
    ),
    (
        "buyer fee account must be a C account",
        broken(pay(buyer_fee=BuyerFee(cny(5), "mid"))),
        "BUYER_FEE_ACCOUNT_NOT_CUSTOMER",
        "buyer_fee.account_id",
        BusinessRuleViolation,
    ),
    (
        "buyer fee account may not be the buyer",
        broken(pay(buyer_fee=BuyerFee(cny(5), "buyer"))),
        "BUYER_FEE_ACCOUNT_IS_PARTY",
        "buyer_fee.account_id",
        BusinessRuleViolation,
    ),
    (
        "profit share account must exist",
        broken(pay(profit_shares=(ProfitShare("ghost", cny(5)),))),
        "SOLUTION_ACCOUNT_INVALID",
        "profit_shares[0].account_id",
        BusinessRuleViolation,
    ),
    (
        "profit share account must be normal",
        broken(pay(profit_shares=(ProfitShare("share1", cny(5)),)), share1=account("share1", status=FROZEN)),
        "SOLUTION_ACCOUNT_INVALID",
        "profit_shares[0].account_id",
        BusinessRuleViolation,
    ),
    (
        "profit share account may not be the buyer",
        broken(pay(profit_shares=(ProfitShare("buyer", cny(5)),))),
        "SOLUTION_ACCOUNT_INVALID",
        "profit_shares[0].account_id",
        BusinessRuleViolation,
    ),
    (
        "upper merchant may not be the seller",
        broken(pay(fee=fee(), upper_merchants=(merchant("seller", TOP, 100),), fee_solution=("seller",))),
        "SOLUTION_ACCOUNT_INVALID",
        "upper_merchants[0].account_id",
        BusinessRuleViolation,
    ),
    (
        "upper merchant may not be the fee account",
        broken(pay(fee=fee(), upper_merchants=(merchant("wallet", TOP, 100),), fee_solution=("wallet",))),
        "SOLUTION_ACCOUNT_INVALID",
        "upper_merchants[0].account_id",
        BusinessRuleViolation,
    ),
    (
        "upper merchants need fee terms",
        broken(pay(upper_merchants=(merchant("top", TOP, 0),), fee_solution=("top",))),
        "UPPER_MERCHANT_WITHOUT_FEE",
        "upper_merchants",
        InvalidArgument,
    ),
    (
        "at most two upper merchants",
        broken(
            pay(
                fee=fee(),
                upper_merchants=(
                    merchant("mid", MIDDLE, 0),
                    merchant("top", TOP, 0),
                    merchant("share1", TOP, 0),
                ),
                fee_solution=("mid", "top", "share1"),
            )
        ),
        "UPPER_MERCHANT_COUNT_INVALID",
        "upper_merchants",
        InvalidArgument,
    ),
    (
        "fee solution names as many accounts as there are merchants",
        broken(pay(fee=fee(), upper_merchants=(merchant("top", TOP, 0),), fee_solution=())),
        "UPPER_MERCHANT_COUNT_INVALID",
        "upper_merchants",
        InvalidArgument,
    ),
    (
        "two merchants need a middle and a top",
        broken(
            pay(
                fee=fee(),
                upper_merchants=(merchant("mid", MIDDLE, 0), merchant("top", MIDDLE, 0)),
                fee_solution=("mid", "top"),
            )
        ),
        "UPPER_MERCHANT_LEVELS_INVALID",
        "upper_merchants",
        InvalidArgument,
    ),
    (
        "one account at two merchant levels",
        broken(
            pay(
                fee=fee(),
                upper_merchants=(merchant("mid", MIDDLE, 0), merchant("mid", TOP, 0)),
                fee_solution=("mid", "mid"),
            )
        ),
        "UPPER_MERCHANT_DUPLICATE",
        "upper_merchants",
        InvalidArgument,
    ),
    (
        "fee solution names an account that is no merchant",
        broken(pay(fee=fee(), upper_merchants=(merchant("top", TOP, 0),), fee_solution=("mid",))),
        "FEE_SOLUTION_MERCHANT_UNKNOWN",
        "fee_solution[0]",
        InvalidArgument,
    ),
    (
        "fee solution leaves a merchant out",
        broken(pay(**{**two_levels(), "fee_solution": ("mid", "mid")})),
        "FEE_SOLUTION_MERCHANT_MISSING",
        "upper_merchants[1].account_id",
        InvalidArgument,
    ),
    (
        "sole merchant has a fee plus amount",
        broken(pay(fee=fee(300), upper_merchants=(merchant("top", TOP, 100, 1),), fee_solution=("top",))),
        "UPPER_MERCHANT_FEE_PLUS_INVALID",
        "upper_merchants[0].fee_plus_amount",
        BusinessRuleViolation,
    ),
    (
        "top fee plus differs from the middle fee",
        broken(pay(**two_levels(300, 200, 100, 199))),
        "UPPER_MERCHANT_FEE_PLUS_INVALID",
        "upper_merchants[1].fee_plus_amount",
        BusinessRuleViolation,
    ),
    (
        "sole merchant passes on more than the fee",
        broken(pay(fee=fee(300), upper_merchants=(merchant("top", TOP, 301),), fee_solution=("top",))),
        "UPPER_MERCHANT_FEE_EXCEEDS",
        "upper_merchants[0].fee_amount",
        BusinessRuleViolation,
    ),
    (
        "middle merchant passes on more than the fee",
        broken(pay(**two_levels(300, 301, 100))),
        "UPPER_MERCHANT_FEE_EXCEEDS",
        "upper_merchants[0].fee_amount",
        BusinessRuleViolation,
    ),
    (
        "top merchant passes on more than it receives",
        broken(pay(**two_levels(300, 200, 201))),
        "UPPER_MERCHANT_FEE_EXCEEDS",
        "upper_merchants[1].fee_amount",
        BusinessRuleViolation,
    ),
    (
        "profit shares above what the seller keeps after a deducted fee",
        broken(
            pay(
                10_000,
                fee=fee(300),
                profit_shares=(ProfitShare("share1", cny(9_000)), ProfitShare("share2", cny(701))),
            )
        ),
        "PROFIT_SHARE_EXCEEDS",
        "profit_shares",
        BusinessRuleViolation,
    ),
    (
        "profit shares above the cash amount when the fee is collected later",
        broken(
            pay(
                10_000,
                fee=explicit_fee(300, COLLECT_LATER, ASYNC),
                profit_shares=(ProfitShare("share1", cny(10_001)),),
            )
        ),
        "PROFIT_SHARE_EXCEEDS",
        "profit_shares",
        BusinessRuleViolation,
    ),
]


@pytest.mark.parametrize(
    ("breaker", "code", "field", "error"),
    [pytest.param(*case[1:], id=case[0]) for case in BROKEN_RULES],
)
def test_broken_rule_raises_its_own_code_naming_the_field(
    breaker: Breaker,
    code: str,
    field: str | None,
    error: type[DomainError],
) -> None:
    cmd, accounts = breaker()

    with pytest.raises(error) as raised:
        plan_general_pay(cmd, accounts)

    assert (raised.value.code, raised.value.field) == (code, field)
    assert raised.value.message


def test_every_documented_error_code_is_broken_on_purpose_above() -> None:
    tested = {case[2] for case in BROKEN_RULES}

    assert tested - {"UNSUPPORTED_CURRENCY"} == ERROR_CODES


def test_every_fee_term_combination_given_together_is_accepted() -> None:
    plan = plan_general_pay(pay(fee=explicit_fee(300, COLLECT_LATER, ASYNC)), book())

    assert plan.wallet_fee == cny(300)


# -- properties --------------------------------------------------------------------------------


@st.composite
def valid_commands(draw: st.DrawFn) -> tuple[GeneralPayCommand, dict[str, AccountView]]:
    currency = draw(st.sampled_from(["CNY", "JPY", "USD"]))

    def money(minor: int) -> Money:
        return Money(minor, currency)

    cash = draw(st.integers(1, 10**9))
    trade = draw(st.sampled_from([REALTIME, ASYNC]))
    terms: FeeTerms | None = None
    merchants: tuple[UpperMerchant, ...] = ()
    solution: tuple[str, ...] = ()
    fee_amount, deducted = 0, True
    if draw(st.booleans()):
        fee_amount = draw(st.integers(0, cash))
        if draw(st.booleans()):
            terms = FeeTerms(money(fee_amount), "wallet")
        else:
            combos = [(DEDUCTED, ASYNC), (COLLECT_LATER, ASYNC)]
            if trade is REALTIME:
                combos.append((DEDUCTED, REALTIME))
            fee_type, fee_settlement = draw(st.sampled_from(combos))
            deducted = fee_type is DEDUCTED
            terms = FeeTerms(money(fee_amount), "wallet", fee_type, fee_settlement, "balance")
        levels = draw(st.integers(0, 2))
        if levels == 1:
            passed = draw(st.integers(0, fee_amount))
            level = draw(st.sampled_from([MIDDLE, TOP]))
            merchants = (UpperMerchant("top", level, money(passed), money(0)),)
        elif levels == 2:
            middle_fee = draw(st.integers(0, fee_amount))
            top_fee = draw(st.integers(0, middle_fee))
            merchants = (
                UpperMerchant("mid", MIDDLE, money(middle_fee), money(0)),
                UpperMerchant("top", TOP, money(top_fee), money(middle_fee)),
            )
            merchants = tuple(draw(st.permutations(merchants)))
        solution = tuple(draw(st.permutations([m.account_id for m in merchants])))
    room = cash - fee_amount if deducted else cash
    shares: list[ProfitShare] = []
    for _ in range(draw(st.integers(0, 3))):
        if room == 0:
            break
        amount = draw(st.integers(1, room))
        room -= amount
        target = draw(st.sampled_from(["share1", "share2", "wallet", "mid"]))
        shares.append(ProfitShare(target, money(amount)))
    buyer_fee = None
    if draw(st.booleans()):
        buyer_fee = BuyerFee(money(draw(st.integers(1, 10**6))), draw(st.sampled_from(["bfee", "wallet"])))
    marketing = None
    if draw(st.booleans()):
        marketing = MarketingSolution("mkt", money(draw(st.integers(0, 10**6))))
    cmd = GeneralPayCommand(
        "buyer",
        "seller",
        money(cash),
        trade,
        terms,
        buyer_fee,
        tuple(merchants),
        solution,
        tuple(shares),
        marketing,
    )
    return cmd, book(currency)


PROPERTY_SETTINGS = settings(deadline=None)  # examples: the profile of tests/conftest.py


@PROPERTY_SETTINGS
@given(valid_commands())
def test_plan_and_deferred_settlements_each_balance_per_currency(
    case: tuple[GeneralPayCommand, dict[str, AccountView]],
) -> None:
    plan = plan_general_pay(*case)

    check_balanced(plan.postings)
    for settlement in plan.deferred:
        check_balanced(settlement.postings)
    assert sum(p.amount.minor for p in all_postings(plan)) == 0


@PROPERTY_SETTINGS
@given(valid_commands())
def test_no_posting_is_zero(case: tuple[GeneralPayCommand, dict[str, AccountView]]) -> None:
    plan = plan_general_pay(*case)

    assert all(p.amount.minor != 0 for p in all_postings(plan))


@PROPERTY_SETTINGS
@given(valid_commands())
def test_wallet_receives_exactly_the_wallet_fee(
    case: tuple[GeneralPayCommand, dict[str, AccountView]],
) -> None:
    plan = plan_general_pay(*case)

    fee_flows = net(all_postings(plan), kinds=(FlowKind.FEE, FlowKind.FEE_SHARE))
    assert fee_flows.get("wallet", 0) == plan.wallet_fee.minor


@PROPERTY_SETTINGS
@given(valid_commands())
def test_seller_ends_with_cash_less_fee_less_shares_all_available(
    case: tuple[GeneralPayCommand, dict[str, AccountView]],
) -> None:
    cmd, accounts = case
    plan = plan_general_pay(cmd, accounts)

    fee_amount = cmd.fee.fee_amount.minor if cmd.fee is not None else 0
    expected = cmd.cash_amount.minor - fee_amount - sum(s.amount.minor for s in cmd.profit_shares)
    seller = [p for p in all_postings(plan) if p.account_id == "seller"]
    assert plan.seller_net.minor == expected
    assert sum(p.amount.minor for p in seller) == expected
    assert sum(p.amount.minor for p in seller if p.sub_account is PENDING) == 0


@PROPERTY_SETTINGS
@given(valid_commands())
def test_trade_settlement_is_ordered_before_fee_settlement(
    case: tuple[GeneralPayCommand, dict[str, AccountView]],
) -> None:
    plan = plan_general_pay(*case)

    orders = {d.kind: d.order for d in plan.deferred}
    assert len(orders) == len(plan.deferred)
    if {SettlementKind.TRADE, SettlementKind.FEE} <= orders.keys():
        assert orders[SettlementKind.TRADE] < orders[SettlementKind.FEE]
    assert (SettlementKind.TRADE in orders) == (case[0].settlement_type is ASYNC)


@PROPERTY_SETTINGS
@given(valid_commands())
def test_buyer_pays_cash_and_buyer_fee_and_nobody_else_ends_negative(
    case: tuple[GeneralPayCommand, dict[str, AccountView]],
) -> None:
    cmd, accounts = case
    plan = plan_general_pay(cmd, accounts)

    totals = net(all_postings(plan))
    buyer_fee = cmd.buyer_fee.amount.minor if cmd.buyer_fee is not None else 0
    assert totals["buyer"] == -(cmd.cash_amount.minor + buyer_fee)
    assert all(v >= 0 for k, v in totals.items() if k not in ("buyer", "seller"))

"""The stored trade's rules (core.general_pay.trade): its shape, its state machine, and the terms
its payment carries after the pay request's overrides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.errors import BusinessRuleViolation, IllegalTransition, InvalidArgument
from core.general_pay.model import FeeType, MerchantLevel, SettlementType, UpperMerchant
from core.general_pay.terms import named_accounts
from core.general_pay.trade import (
    ParallelType,
    PaySolution,
    Trade,
    TradePay,
    TradeStatus,
    TradeTerms,
    payment_terms,
)
from core.money import Money

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def terms(**changes: object) -> TradeTerms:
    fields: dict[str, object] = {
        "buyer_account_id": "buyer",
        "seller_account_id": "seller",
        "cash_amount": cny(10_000),
        "pay_method": "transfer",
        "fee_amount": cny(300),
        "fee_account_id": "wallet",
        "payment_mode": "balance",
        **changes,
    }
    return TradeTerms(**fields)  # type: ignore[arg-type]


def test_a_paid_or_failed_trade_moves_no_more() -> None:
    trade = Trade("trd_1", "app", "T-1", "h", terms(), TradeStatus.CREATED, NOW, NOW)
    paid = trade.moved(TradeStatus.PAID, NOW, "pay_1")
    assert (paid.status, paid.payment_id) == (TradeStatus.PAID, "pay_1")
    with pytest.raises(IllegalTransition):
        paid.moved(TradeStatus.FAILED, NOW, "pay_1")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"seller_account_id": "buyer"}, "PAYER_PAYEE_SAME"),
        ({"cash_amount": cny(0)}, "INVALID_AMOUNT"),
        ({"parallel_type": ParallelType.MULTIPLE}, "PAY_SOLUTION_REQUIRED"),
        ({"pay_solution": PaySolution((), ())}, "PAY_SOLUTION_NOT_APPLICABLE"),
    ],
)
def test_a_malformed_trade_is_refused(changes: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        terms(**changes).check()
    assert refused.value.code == code


def test_overrides_replace_the_stored_terms_and_the_rest_is_kept() -> None:
    stored = terms(settlement_type=SettlementType.ASYNC)
    assert payment_terms(stored, TradePay()) == {
        "settlement": "async",
        "fee": {"amount": "3.00", "account": "wallet"},
    }
    overridden = payment_terms(stored, TradePay(settlement_type=SettlementType.REALTIME, fee_account_id="w2"))
    assert overridden == {"settlement": "realtime", "fee": {"amount": "3.00", "account": "w2"}}


def test_the_pay_mode_must_equal_the_stored_template() -> None:
    given = TradePay(
        fee_type=FeeType.DEDUCTED, fee_settlement_type=SettlementType.REALTIME, pay_mode="balance"
    )
    assert payment_terms(terms(), given)["fee"]["pay_mode"] == "balance"
    for template in ("card", None):
        with pytest.raises(BusinessRuleViolation) as refused:
            payment_terms(terms(payment_mode=template), given)
        assert refused.value.code == "PAY_MODE_MISMATCH"


def test_only_a_multiple_trade_carries_its_pay_solution() -> None:
    solution = PaySolution((UpperMerchant("top", MerchantLevel.TOP, cny(100), cny(0)),), ("top",))
    multiple = payment_terms(terms(parallel_type=ParallelType.MULTIPLE, pay_solution=solution), TradePay())
    assert multiple["fee_solution"] == ["top"] and multiple["upper_merchants"][0]["account"] == "top"
    assert "upper_merchants" not in payment_terms(terms(), TradePay())


def test_a_zero_fee_or_buyer_fee_names_no_account() -> None:
    given = {"fee": {"amount": "0.00", "account": "w"}, "buyer_fee": {"amount": "0", "account": "b"}}
    assert named_accounts("buyer", "seller", given) == ["buyer", "seller"]
    charged = {"fee": {"amount": "0.01", "account": "w"}, "profit_shares": [{"account": "p", "amount": "1"}]}
    assert named_accounts("buyer", "seller", charged) == ["buyer", "seller", "w", "p"]

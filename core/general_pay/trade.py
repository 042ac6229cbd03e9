"""The stored trade (seed 003 `t_trans`): created with its terms, then paid once by `pay_trans`
with the request's overrides; its state machine, and the terms its payment carries.

`pay_trans` loads the trade by `trans_id`, lets the request replace its channel, settlement
type, fee amount and fee account, requires the request's combined pay mode to equal the
trade's stored `payment_mode` template, and loads the trade's pay solution (the upper
merchants and the fee solution) when its parallel type is multiple. The merged terms are the
one-step payment's general pay terms, checked by the same rules (`plan_general_pay`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.errors import BusinessRuleViolation, InvalidArgument
from core.general_pay.model import (
    BuyerFee,
    FeeType,
    MarketingSolution,
    ProfitShare,
    SettlementType,
    UpperMerchant,
)
from core.money import Money
from core.state import StateMachine


class TradeStatus(enum.StrEnum):
    CREATED = "created"  # stored with its terms, not paid yet
    PAYING = "paying"  # its payment is with an external channel, outcome not known yet
    PAID = "paid"
    FAILED = "failed"  # its one payment failed: the trade is over (create another)


TRADE_STATES: StateMachine[TradeStatus] = StateMachine(
    "trade",
    {
        TradeStatus.CREATED: {TradeStatus.PAYING, TradeStatus.PAID, TradeStatus.FAILED},
        TradeStatus.PAYING: {TradeStatus.PAID, TradeStatus.FAILED},
        TradeStatus.PAID: set(),
        TradeStatus.FAILED: set(),
    },
)


class ParallelType(enum.StrEnum):
    """The seed's parallel_type: a multiple trade pays along its stored pay solution."""

    SINGLE = "single"
    MULTIPLE = "multiple"


class FeePayer(enum.StrEnum):
    """fee_amount_payer_flag: who bears the trade's fee (recorded)."""

    SELLER = "seller"
    BUYER = "buyer"


@dataclass(frozen=True, slots=True)
class TradeFlags:
    """The flags `pay_trans` reads from the trade, kept with it and shown with it."""

    need_share_profit: bool = False
    is_profit: bool = False
    recv_confirm: bool = False
    refund_fee: bool = False
    fee_payer: FeePayer = FeePayer.SELLER
    client_source: str | None = None
    special_code: str | None = None
    recvable_id: str | None = None
    credit_recv_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaySolution:
    """pay_trans_solution: the agent chain a multiple trade's fee travels up."""

    upper_merchants: tuple[UpperMerchant, ...]
    fee_solution: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TradeTerms:
    """What a trade is created with (t_trans): the parties, the amount, the channel, the
    settlement type, the fee, the payment_mode template, the parallel type and its solution."""

    buyer_account_id: str
    seller_account_id: str
    cash_amount: Money
    pay_method: str
    settlement_type: SettlementType = SettlementType.REALTIME
    channel: str | None = None
    fee_amount: Money | None = None
    fee_account_id: str | None = None
    payment_mode: str | None = None  # the template the pay request's combined pay mode must equal
    parallel_type: ParallelType = ParallelType.SINGLE
    pay_solution: PaySolution | None = None
    flags: TradeFlags = field(default_factory=TradeFlags)
    memo: str | None = None

    def check(self) -> None:
        """Two parties, a positive amount, a pay solution exactly for a multiple trade."""
        if self.buyer_account_id == self.seller_account_id:
            raise InvalidArgument(
                "buyer and seller are the same account; name two different ones",
                field="payee_account",
                code="PAYER_PAYEE_SAME",
            )
        if self.cash_amount.minor <= 0:
            raise InvalidArgument(
                "the trade's amount must be above zero", field="amount", code="INVALID_AMOUNT"
            )
        multiple = self.parallel_type is ParallelType.MULTIPLE
        if multiple and (self.pay_solution is None or not self.pay_solution.upper_merchants):
            raise InvalidArgument(
                "a multiple trade pays along its pay solution: give pay_solution.upper_merchants",
                field="pay_solution",
                code="PAY_SOLUTION_REQUIRED",
            )
        if not multiple and self.pay_solution is not None:
            raise InvalidArgument(
                "only a multiple trade (parallel_type multiple) has a pay solution",
                field="pay_solution",
                code="PAY_SOLUTION_NOT_APPLICABLE",
            )


@dataclass(frozen=True, slots=True)
class Trade:
    id: str
    app_id: str
    out_trade_no: str
    request_hash: str
    terms: TradeTerms
    status: TradeStatus
    created_at: datetime
    updated_at: datetime
    payment_id: str | None = None

    def moved(self, target: TradeStatus, at: datetime, payment_id: str) -> Trade:
        TRADE_STATES.move(self.status, target)
        return replace(self, status=target, updated_at=at, payment_id=payment_id)


@dataclass(frozen=True, slots=True)
class TradePay:
    """What a pay request may give: the seed's overrides of the stored terms, and the terms
    given only at payment (fee type and settlement with the pay mode, buyer fee, profit
    shares, marketing)."""

    channel: str | None = None
    settlement_type: SettlementType | None = None
    fee_amount: Money | None = None
    fee_account_id: str | None = None
    fee_type: FeeType | None = None
    fee_settlement_type: SettlementType | None = None
    pay_mode: str | None = None
    buyer_fee: BuyerFee | None = None
    profit_shares: tuple[ProfitShare, ...] = ()
    marketing: MarketingSolution | None = None


def payment_out_request_no(trade_id: str) -> str:
    """The one payment of a trade is keyed by it: a second payment cannot be stored."""
    return f"trade/{trade_id}"


def check_pay_mode(trade: TradeTerms, pay: TradePay) -> None:
    """库中payment_mode必须与模板中payment_mode一致: a given pay mode equals the stored template."""
    if pay.pay_mode is not None and pay.pay_mode != trade.payment_mode:
        stored = trade.payment_mode or "none"
        raise BusinessRuleViolation(
            f"pay mode {pay.pay_mode!r} is not the trade's payment_mode template ({stored})",
            field="fee.pay_mode",
            code="PAY_MODE_MISMATCH",
        )


def payment_terms(trade: TradeTerms, pay: TradePay) -> dict[str, Any]:
    """The general pay terms of the trade's payment, in the one-step payment's form: the stored
    terms with the request's overrides, the pay solution for a multiple trade."""
    check_pay_mode(trade, pay)
    terms: dict[str, Any] = {"settlement": (pay.settlement_type or trade.settlement_type).value}
    fee_amount = pay.fee_amount if pay.fee_amount is not None else trade.fee_amount
    if fee_amount is not None:
        fee: dict[str, Any] = {
            "amount": str(fee_amount),
            "account": pay.fee_account_id or trade.fee_account_id or "",
        }
        if pay.fee_type is not None:
            fee["type"] = "deducted" if pay.fee_type is FeeType.DEDUCTED else "collect_later"
        if pay.fee_settlement_type is not None:
            fee["settlement"] = pay.fee_settlement_type.value
        if pay.pay_mode is not None:
            fee["pay_mode"] = pay.pay_mode
        terms["fee"] = fee
    if pay.buyer_fee is not None:
        terms["buyer_fee"] = {"amount": str(pay.buyer_fee.amount), "account": pay.buyer_fee.account_id}
    if trade.parallel_type is ParallelType.MULTIPLE and trade.pay_solution is not None:
        terms["upper_merchants"] = [
            {
                "account": m.account_id,
                "level": int(m.level),
                "fee_amount": str(m.fee_amount),
                "fee_plus_amount": str(m.fee_plus_amount),
            }
            for m in trade.pay_solution.upper_merchants
        ]
        terms["fee_solution"] = list(trade.pay_solution.fee_solution)
    if pay.profit_shares:
        terms["profit_shares"] = [
            {"account": s.account_id, "amount": str(s.amount)} for s in pay.profit_shares
        ]
    if pay.marketing is not None:
        terms["marketing"] = {
            "solution_id": pay.marketing.solution_id,
            "amount": str(pay.marketing.amount),
        }
    return terms


def status_of_payment(payment_status: str) -> TradeStatus:
    """The trade follows its payment: succeeded is paid, failed is failed, else paying."""
    return {"succeeded": TradeStatus.PAID, "failed": TradeStatus.FAILED}.get(
        payment_status, TradeStatus.PAYING
    )

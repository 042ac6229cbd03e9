"""Request bodies of seed-003 trades: creating one with its terms and flags, and paying it with
the seed's overrides (pay_trans)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.http.schemas.base import Amount, Body, Currency, Id, OptionalAmount
from gateway.http.schemas.payments import BuyerFeeBody, MarketingBody, ProfitShareBody, UpperMerchantBody


class TradeFeeBody(Body):
    amount: Amount
    account: str | None = Field(
        default=None, min_length=1, max_length=64, description="收益账户; unused for 0"
    )


class PaySolutionBody(Body):
    """pay_trans_solution of a multiple trade: the agent chain its fee travels up."""

    upper_merchants: list[UpperMerchantBody] = Field(min_length=1, max_length=2)
    fee_solution: list[str] = Field(default_factory=list, max_length=2)


class TradeFlagsBody(Body):
    """The flags the seed's pay_trans reads from the trade (recorded with it)."""

    need_share_profit: bool = False
    is_profit: bool = False
    recv_confirm: bool = False
    refund_fee: bool = Field(default=False, description="is_refund_fee_amount_flag")
    fee_payer: Literal["seller", "buyer"] = Field(default="seller", description="fee_amount_payer_flag")
    client_source: str | None = Field(default=None, max_length=64)
    special_code: str | None = Field(default=None, max_length=64)
    recvable_id: str | None = Field(default=None, max_length=64)
    credit_recv_id: str | None = Field(default=None, max_length=64)


class TradeBody(Body):
    """A trade (t_trans) stored before it is paid; idempotent on out_trade_no."""

    out_trade_no: str = Id
    pay_method: str = Field(default="transfer", min_length=1, max_length=32)
    channel: str | None = Field(
        default=None, max_length=64, description="channel_id; a pay request may override it"
    )
    amount: Amount
    currency: Currency
    payer_account: str = Field(min_length=1, max_length=64, description="the buyer")
    payee_account: str = Field(min_length=1, max_length=64, description="the seller")
    settlement: Literal["realtime", "async"] = "realtime"
    fee: TradeFeeBody | None = None
    payment_mode: str | None = Field(
        default=None, max_length=32, description="the template a pay request's pay_mode must equal"
    )
    parallel_type: Literal["single", "multiple"] = "single"
    pay_solution: PaySolutionBody | None = None
    flags: TradeFlagsBody = Field(default_factory=TradeFlagsBody)
    memo: str | None = Field(default=None, max_length=256)

    def money_fields(self) -> list[tuple[str, str]]:
        out = [("amount", self.amount)]
        if self.fee:
            out.append(("fee.amount", self.fee.amount))
        for i, m in enumerate(self.pay_solution.upper_merchants if self.pay_solution else []):
            out += [
                (f"pay_solution.upper_merchants[{i}].fee_amount", m.fee_amount),
                (f"pay_solution.upper_merchants[{i}].fee_plus_amount", m.fee_plus_amount),
            ]
        return out


class TradePayFeeBody(Body):
    """The fee overrides of pay_trans; type, settlement and pay_mode all or none."""

    amount: OptionalAmount = None
    account: str | None = Field(default=None, min_length=1, max_length=64)
    type: Literal["deducted", "collect_later"] | None = None
    settlement: Literal["realtime", "async"] | None = None
    pay_mode: str | None = Field(
        default=None, max_length=32, description="must equal the trade's payment_mode"
    )


class TradePayBody(Body):
    """pay_trans: the request's overrides of the stored trade, and the terms given at payment."""

    channel: str | None = Field(default=None, max_length=64)
    settlement: Literal["realtime", "async"] | None = None
    fee: TradePayFeeBody | None = None
    buyer_fee: BuyerFeeBody | None = None
    profit_shares: list[ProfitShareBody] = Field(default_factory=list, max_length=20)
    marketing: MarketingBody | None = None

    def money_fields(self) -> list[tuple[str, str]]:
        out = []
        if self.fee and self.fee.amount is not None:
            out.append(("fee.amount", self.fee.amount))
        if self.buyer_fee:
            out.append(("buyer_fee.amount", self.buyer_fee.amount))
        out += [(f"profit_shares[{i}].amount", s.amount) for i, s in enumerate(self.profit_shares)]
        if self.marketing:
            out.append(("marketing.amount", self.marketing.amount))
        return out

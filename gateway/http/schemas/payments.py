"""Request bodies of payments (with the seed-003 general pay terms) and route explanations."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from core.general_pay.terms import named_accounts
from gateway.http.schemas.base import Amount, Body, Currency, Id


class FeeBody(Body):
    amount: Amount
    account: str = Id
    type: Literal["deducted", "collect_later"] | None = None
    settlement: Literal["realtime", "async"] | None = None
    pay_mode: str | None = Field(default=None, max_length=32)


class BuyerFeeBody(Body):
    amount: Amount
    account: str = Id


class UpperMerchantBody(Body):
    account: str = Id
    level: Literal[1, 2]
    fee_amount: Amount
    fee_plus_amount: Amount = "0"


class ProfitShareBody(Body):
    account: str = Id
    amount: Amount


class MarketingBody(Body):
    solution_id: str = Field(min_length=1, max_length=64)
    amount: Amount


class PaymentBody(Body):
    out_request_no: str = Id
    pay_method: str = Field(min_length=1, max_length=32)
    channel: str | None = Field(default=None, max_length=64)
    amount: Amount
    currency: Currency
    payer_account: str | None = Field(default=None, max_length=64)
    payee_account: str | None = Field(default=None, max_length=64)
    business_type: str | None = Field(default=None, max_length=32)
    memo: str | None = Field(default=None, max_length=256)
    # seed 003 general pay transaction terms (internal transfer)
    settlement: Literal["realtime", "async"] | None = None
    fee: FeeBody | None = None
    buyer_fee: BuyerFeeBody | None = None
    upper_merchants: list[UpperMerchantBody] = Field(default_factory=list, max_length=2)
    fee_solution: list[str] = Field(default_factory=list, max_length=2)
    profit_shares: list[ProfitShareBody] = Field(default_factory=list, max_length=20)
    marketing: MarketingBody | None = None

    def ledger_accounts(self) -> list[str]:
        terms = self.model_dump(mode="json", include={"fee", "buyer_fee", "upper_merchants", "profit_shares"})
        return named_accounts(self.payer_account, self.payee_account, terms)

    def money_fields(self) -> list[tuple[str, str]]:
        """(field path, decimal string) of every amount, for strict parsing."""
        out = [("amount", self.amount)]
        if self.fee:
            out.append(("fee.amount", self.fee.amount))
        if self.buyer_fee:
            out.append(("buyer_fee.amount", self.buyer_fee.amount))
        for i, m in enumerate(self.upper_merchants):
            out += [
                (f"upper_merchants[{i}].fee_amount", m.fee_amount),
                (f"upper_merchants[{i}].fee_plus_amount", m.fee_plus_amount),
            ]
        out += [(f"profit_shares[{i}].amount", s.amount) for i, s in enumerate(self.profit_shares)]
        if self.marketing:
            out.append(("marketing.amount", self.marketing.amount))
        return out


class ExplainBody(Body):
    pay_method: str = Field(min_length=1, max_length=32)
    channel: str | None = None
    amount: Amount
    currency: Currency
    business_type: str | None = None
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

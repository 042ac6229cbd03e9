"""Reading a payment's general-pay terms (fee, merchants, shares) into the core's command."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.errors import DomainError
from core.general_pay.model import (
    BuyerFee,
    FeeTerms,
    FeeType,
    GeneralPayCommand,
    GeneralPayPlan,
    MarketingSolution,
    MerchantLevel,
    ProfitShare,
    SettlementType,
    UpperMerchant,
)
from core.general_pay.plan import plan_general_pay
from core.ledger import AccountView
from core.money import Money
from ports.channels import PaymentRequest

FEE_TYPES = {"deducted": FeeType.DEDUCTED, "collect_later": FeeType.COLLECT_LATER}
SETTLEMENTS = {"realtime": SettlementType.REALTIME, "async": SettlementType.ASYNC}


def _money(raw: str, currency: str, field: str) -> Money:
    return Money.parse(raw, currency, field=field, allow_zero=True)


def command_from_request(request: PaymentRequest) -> GeneralPayCommand:
    d: Mapping[str, Any] = request.details
    currency = request.amount.currency
    fee = None
    if d.get("fee"):
        f = d["fee"]
        fee = FeeTerms(
            fee_amount=_money(f["amount"], currency, "fee.amount"),
            fee_account_id=f["account"],
            fee_type=FEE_TYPES[f["type"]] if f.get("type") else None,
            fee_settlement_type=SETTLEMENTS[f["settlement"]] if f.get("settlement") else None,
            pay_mode=f.get("pay_mode"),
        )
    buyer_fee = None
    if d.get("buyer_fee"):
        buyer_fee = BuyerFee(
            amount=_money(d["buyer_fee"]["amount"], currency, "buyer_fee.amount"),
            account_id=d["buyer_fee"]["account"],
        )
    marketing = None
    if d.get("marketing"):
        marketing = MarketingSolution(
            solution_id=d["marketing"]["solution_id"],
            amount=_money(d["marketing"]["amount"], currency, "marketing.amount"),
        )
    return GeneralPayCommand(
        buyer_account_id=request.payer_account or "",
        seller_account_id=request.payee_account or "",
        cash_amount=request.amount,
        settlement_type=SETTLEMENTS[d.get("settlement") or "realtime"],
        fee=fee,
        buyer_fee=buyer_fee,
        upper_merchants=tuple(
            UpperMerchant(
                account_id=m["account"],
                level=MerchantLevel(m["level"]),
                fee_amount=_money(m["fee_amount"], currency, f"upper_merchants[{i}].fee_amount"),
                fee_plus_amount=_money(
                    m.get("fee_plus_amount", "0"), currency, f"upper_merchants[{i}].fee_plus_amount"
                ),
            )
            for i, m in enumerate(d.get("upper_merchants") or ())
        ),
        fee_solution=tuple(d.get("fee_solution") or ()),
        profit_shares=tuple(
            ProfitShare(
                account_id=s["account"],
                amount=_money(s["amount"], currency, f"profit_shares[{i}].amount"),
            )
            for i, s in enumerate(d.get("profit_shares") or ())
        ),
        marketing=marketing,
    )


def referenced_accounts(request: PaymentRequest) -> list[str]:
    """Every platform account the terms name, so the gateway can check the app owns them."""
    d = request.details
    ids = [request.payer_account, request.payee_account]
    if d.get("fee"):
        ids.append(d["fee"]["account"])
    if d.get("buyer_fee"):
        ids.append(d["buyer_fee"]["account"])
    ids += [m["account"] for m in d.get("upper_merchants") or ()]
    ids += [s["account"] for s in d.get("profit_shares") or ()]
    return [i for i in ids if i]


# the core names its inputs in domain words; callers know the API's field names
_API_FIELDS = (
    ("seller_account_id", "payee_account"),
    ("buyer_account_id", "payer_account"),
    ("cash_amount", "amount"),
    ("fee.fee_amount", "fee.amount"),
    ("fee.fee_account_id", "fee.account"),
    ("fee.fee_settlement_type", "fee.settlement"),
    ("fee.fee_type", "fee.type"),
    (".account_id", ".account"),
)


def api_field(field: str | None) -> str | None:
    if field is None:
        return None
    for domain, api in _API_FIELDS:
        field = field.replace(domain, api)
    return field


def plan(command: GeneralPayCommand, accounts: Mapping[str, AccountView]) -> GeneralPayPlan:
    try:
        return plan_general_pay(command, accounts)
    except DomainError as exc:
        exc.field = api_field(exc.field)
        raise

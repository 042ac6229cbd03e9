"""Profit sharing: the shares may not exceed what the seller keeps."""

from __future__ import annotations

from core.errors import BusinessRuleViolation
from core.general_pay.fees import ResolvedFee
from core.general_pay.model import FeeType, GeneralPayCommand
from core.money import Money


def check_profit_shares(cmd: GeneralPayCommand, fee: ResolvedFee | None, shares: Money) -> None:
    received = cmd.cash_amount
    if fee is not None and fee.fee_type is FeeType.DEDUCTED:
        received = received - fee.amount
    if received < shares:
        raise BusinessRuleViolation(
            f"profit shares total {shares}, more than the seller receives ({received}); lower the shares",
            field="profit_shares",
            code="PROFIT_SHARE_EXCEEDS",
        )

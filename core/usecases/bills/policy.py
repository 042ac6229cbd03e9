"""The bill settings the use cases need: limits, and how a bank attempt is paid and routed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.bills.risk import BillLimits


@dataclass(frozen=True, slots=True)
class BillPolicy:
    """Bill settings the use cases need: limits, and how a bank attempt is paid and routed."""

    limits: BillLimits
    payer_card_no: str | None = None  # the company's paying card, when a bill names none
    pay_method: str = "bank"  # the pay method bank attempts are routed by
    business_type: str = "bill"
    resubmit_after: timedelta = timedelta(seconds=60)  # a bank_submitted bill left this long is recovered

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
    # how long a bill worker's claim on an attempt to send holds: longer than the bank call, so a
    # worker that stops around the 8801 call is replaced after it, never while it is still sending
    resubmit_after: timedelta = timedelta(seconds=60)

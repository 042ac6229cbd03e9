"""How rent is collected: routing of the deductions, the retry schedule, the recovery delays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.lease.plan import RetrySchedule


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """How rent is collected: the pay method and business type its payments are routed by, the
    retry schedule of failed periods, when the worker recovers what a crash left behind, and the
    templates that let rent start before 落签."""

    pay_method: str = "withholding"
    business_type: str = "lease"
    retry: RetrySchedule = RetrySchedule((3600, 21600, 86400, 172800, 345600))
    resync_after: timedelta = timedelta(seconds=60)
    resubmit_after: timedelta = timedelta(seconds=60)
    # contract templates under which rent may be withheld once the contract is signed, before
    # 落签; under every other template 落签 comes first (seed 000)
    rent_before_finalise: frozenset[str] = frozenset()

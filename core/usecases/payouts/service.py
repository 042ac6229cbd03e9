"""The payout service: the payout workflow's one entry point for the gateway (reading,
applying, finance review), each operation delegated to its use-case module."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from core.ids import utcnow
from core.payouts.model import Payout
from core.usecases.payments.service import PaymentService
from core.usecases.payouts import intake, reading, review
from core.usecases.payouts.context import PayoutContext
from core.usecases.payouts.intake import ItemOutcome, PayoutBatch
from ports.storage import FlowLogSink, UnitOfWorkFactory


class PayoutService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        payments: PaymentService,
        flow: FlowLogSink,
        *,
        reads: UnitOfWorkFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.ctx = PayoutContext(uow, reads or uow, payments, flow, clock)

    async def find(self, payout_id: str) -> Payout | None:
        return await reading.find(self.ctx, payout_id)

    async def get(self, payout_id: str, app_id: str | None = None) -> Payout:
        """The payout; with `app_id`, only if that app applied for it (others' are a 404)."""
        return await reading.get(self.ctx, payout_id, app_id)

    async def by_serial_no(self, app_id: str, serial_no: str) -> Payout:
        return await reading.by_serial_no(self.ctx, app_id, serial_no)

    async def apply(self, batch: PayoutBatch) -> list[ItemOutcome]:
        """Check and store every item on its own; one bad item never blocks the others."""
        return await intake.apply(self.ctx, batch)

    async def approve(
        self, payout_id: str, *, reviewer: str, operator: str | None = None, note: str | None = None
    ) -> Payout:
        """Approve and pay (approving again is harmless); a rejected payout cannot be approved."""
        return await review.approve(self.ctx, payout_id, reviewer=reviewer, operator=operator, note=note)

    async def reject(
        self, payout_id: str, *, reviewer: str, reason: str, operator: str | None = None
    ) -> Payout:
        """Refuse a payout waiting for review (rejecting again is harmless)."""
        return await review.reject(self.ctx, payout_id, reviewer=reviewer, reason=reason, operator=operator)

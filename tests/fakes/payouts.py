"""The in-memory payout repository (ports.payouts.PayoutRepository)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from core.payouts.model import Payout, PayoutStatus, payment_out_request_no
from ports.payouts import PayoutRepository
from ports.storage import ConcurrentUpdate, DuplicateRequest

if TYPE_CHECKING:
    from fakes.storage import FakeState


class FakePayouts(PayoutRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, payout: Payout) -> None:
        if payout.id in self.state.payouts or await self.by_serial_no(payout.app_id, payout.serial_no):
            raise DuplicateRequest(payout.serial_no)
        self.state.payouts[payout.id] = payout

    async def get(self, payout_id: str) -> Payout | None:
        return self.state.payouts.get(payout_id)

    async def get_for_update(self, payout_id: str) -> Payout | None:
        return self.state.payouts.get(payout_id)

    async def by_serial_no(self, app_id: str, serial_no: str) -> Payout | None:
        found = (p for p in self.state.payouts.values() if (p.app_id, p.serial_no) == (app_id, serial_no))
        return next(found, None)

    async def save(self, payout: Payout, *, expected_status: PayoutStatus) -> None:
        if self.state.races.lost("payouts"):
            raise ConcurrentUpdate(payout.id)
        stored = self.state.payouts.get(payout.id)
        if stored is None or stored.status is not expected_status:
            raise ConcurrentUpdate(payout.id)
        self.state.payouts[payout.id] = payout

    async def approved_unpaid(self, approved_before: datetime, limit: int) -> list[Payout]:
        paid = {(p.app_id, p.out_request_no) for p in self.state.payments.values()}
        unpaid = [
            p
            for p in self.state.payouts.values()
            if p.status is PayoutStatus.APPROVED
            and p.updated_at <= approved_before
            and (p.app_id, payment_out_request_no(p.id)) not in paid
        ]
        return sorted(unpaid, key=lambda p: p.updated_at)[:limit]

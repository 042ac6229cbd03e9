"""Storage port of payouts: what the payout use cases need from persistence."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.payouts.model import Payout, PayoutStatus


class PayoutRepository(Protocol):
    """Payouts within one unit of work (one transaction)."""

    async def add(self, payout: Payout) -> None:
        """Insert; raises ports.storage.DuplicateRequest when (app_id, serial_no) exists."""
        ...

    async def get(self, payout_id: str) -> Payout | None: ...

    async def get_for_update(self, payout_id: str) -> Payout | None:
        """Read and lock the row until the transaction ends (where the database can)."""
        ...

    async def by_serial_no(self, app_id: str, serial_no: str) -> Payout | None: ...

    async def save(self, payout: Payout, *, expected_status: PayoutStatus) -> None:
        """Update; raises ports.storage.ConcurrentUpdate when the stored status changed."""
        ...

    async def approved_unpaid(self, approved_before: datetime, limit: int) -> list[Payout]:
        """Payouts `approved` (last moved) before `approved_before` that have no payment yet
        (none under `payment_out_request_no(id)`): a crash between approval and submit left
        them. Oldest first, at most `limit`."""
        ...

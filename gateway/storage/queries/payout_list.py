"""The payouts list: which payouts its filters pick (status, app, serial no, created window)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.storage.payout_tables import payouts
from gateway.storage.queries.pages import Listing, created_between, matching


@dataclass(frozen=True)
class PayoutFilter:
    """The payouts a list asks for; None: any."""

    status: str | None = None
    app_id: str | None = None
    serial_no: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def listing(self, app_scope: str | None = None) -> Listing:
        where = [
            *matching(payouts, status=self.status, app_id=self.app_id, serial_no=self.serial_no),
            *created_between(payouts, self.created_from, self.created_to),
        ]
        scope = [payouts.c.app_id == app_scope] if app_scope is not None else []
        return Listing(payouts, scope, where)

"""The payments list: which payments its filters pick (status, channel, app, created window, escalated)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gateway.storage import tables as t
from gateway.storage.queries.pages import Listing, created_between, matching

# the same expression as the partial index ix_payments_escalated_created_at_id, so both engines use it
ESCALATED = t.payments.c.escalated


@dataclass(frozen=True)
class PaymentFilter:
    """The payments a list asks for; None: any."""

    status: str | None = None
    channel: str | None = None
    app_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    escalated: bool | None = None

    def listing(self, app_scope: str | None = None) -> Listing:
        p = t.payments
        where = [
            *matching(p, status=self.status, channel=self.channel, app_id=self.app_id),
            *created_between(p, self.created_from, self.created_to),
        ]
        if self.escalated is not None:
            where.append(ESCALATED if self.escalated else sa.not_(ESCALATED))
        scope = [p.c.app_id == app_scope] if app_scope is not None else []
        return Listing(p, scope, where)

"""The webhook notifications list: which deliveries its filters pick (status, app, created window)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gateway.storage import tables as t
from gateway.storage.queries.pages import Listing, created_between, matching

# what ?status= may ask for: the stored statuses, and failing (pending after a failed attempt)
NOTIFICATION_STATUSES = ("pending", "failing", "delivered", "dead")


@dataclass(frozen=True)
class NotificationFilter:
    """The deliveries a list asks for; None: any."""

    status: str | None = None
    app_id: str | None = None
    event_type: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def listing(self) -> Listing:
        o = t.outbox
        where = [
            *matching(o, app_id=self.app_id, event_type=self.event_type),
            *created_between(o, self.created_from, self.created_to),
        ]
        if self.status == "failing":
            where.append(sa.and_(o.c.status == "pending", o.c.attempts > 0))
        elif self.status is not None:
            where.append(o.c.status == self.status)
        return Listing(o, (), where)

"""Read model of the console's detail pages: the webhooks sent about a subject (a payment, bill,
payout or lease order, and the payments made for it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage import tables as t
from gateway.storage.queries.outbox import outbox_json


class ConsoleQueries:
    """What the console reads beyond the lists and the workflows' own read models."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def webhooks_for(self, subject_ids: Sequence[str], limit: int = 100) -> list[dict[str, Any]]:
        """The notifications queued about these subjects, oldest first."""
        ids = [s for s in subject_ids if s]
        if not ids:
            return []
        o = t.outbox
        query = sa.select(o).where(o.c.subject_id.in_(ids)).order_by(o.c.created_at, o.c.id).limit(limit)
        async with self.engine.connect() as conn:
            return [outbox_json(row) for row in await conn.execute(query)]

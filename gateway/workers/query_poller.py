"""The query poller: resolves processing/unknown payments by asking their channel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import utcnow
from core.usecases.payments.service import PaymentService
from gateway.storage import tables as t
from gateway.storage.rows import payment_from_mapping
from gateway.workers.loop import run_periodically


class QueryPoller:
    """Resolves processing/unknown payments by querying their channel on its schedule.
    State lives in the payments table, so a restart picks up where it left off."""

    def __init__(
        self,
        engine: AsyncEngine,
        payments: PaymentService,
        batch: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.payments = payments
        self.batch = batch
        self.clock = clock

    async def run_once(self) -> int:
        p = t.payments
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(p)
                    .where(
                        p.c.status.in_(("processing", "unknown", "created")),
                        p.c.next_query_at.is_not(None),
                        p.c.next_query_at <= self.clock(),
                    )
                    .order_by(p.c.next_query_at)
                    .limit(self.batch)
                )
            ).all()
        for row in rows:
            await self.payments.resolve(payment_from_mapping(row._mapping), row.query_attempts)
        return len(rows)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        await run_periodically("query-poller", interval, self.run_once, stop)

"""The query poller: resolves processing/unknown payments by asking their channel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import utcnow
from core.usecases.payments.service import PaymentService
from gateway.storage import tables as t
from gateway.storage.rows import payment_from_mapping
from gateway.workers.loop import run_periodically

# a claimed payment's query starts within this long, or is left to the next claim
DEFAULT_CLAIM_SECONDS = 30.0


class QueryPoller:
    """Resolves processing/unknown payments by querying their channel on its schedule.
    State lives in the payments table, so a restart picks up where it left off.

    On PostgreSQL, where several gateway processes poll one database, a round first claims its
    payments: their `next_query_at` moves ahead in the statement that picks them (skipping rows
    another claim holds) by `claim_seconds`, the time the round has to start their queries, plus
    `query_timeout`, the longest a started query runs; so no other process queries them
    meanwhile, and a process that dies leaves them due again once the claim has passed. Each
    query reschedules its payment as before. SQLite has one gateway process per file: it reads.
    Rounds run one after another in a process, so a payment made due again while its query runs
    (an operator's requery_bank) is queried after it, not beside it. `wake` starts a round at once.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        payments: PaymentService,
        batch: int,
        clock: Callable[[], datetime] = utcnow,
        claim_seconds: float = DEFAULT_CLAIM_SECONDS,
        query_timeout: float = 0.0,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.engine = engine
        self.payments = payments
        self.batch = batch
        self.clock = clock
        self.claim = timedelta(seconds=claim_seconds)
        self.query_timeout = timedelta(seconds=query_timeout)
        self.wake = wake

    async def run_once(self) -> int:
        if self.wake is not None:
            self.wake.clear()
        now = self.clock()
        rows = await (self._read(now) if self.engine.dialect.name == "sqlite" else self._claim(now))
        resolved = 0
        for row in rows:
            if self.clock() >= now + self.claim:
                break  # too late to start: the claim on the rest ends before a query would
            await self.payments.resolve(payment_from_mapping(row._mapping), row.query_attempts)
            resolved += 1
        return resolved

    def _due(self, now: datetime) -> sa.Select[Any]:
        p = t.payments
        return (
            sa.select(p)
            .where(
                p.c.status.in_(("processing", "unknown", "created")),
                p.c.next_query_at.is_not(None),
                p.c.next_query_at <= now,
            )
            .order_by(p.c.next_query_at)
            .limit(self.batch)
        )

    async def _read(self, now: datetime) -> Sequence[Any]:
        async with self.engine.connect() as conn:
            rows: Sequence[Any] = (await conn.execute(self._due(now))).all()
        return rows

    async def _claim(self, now: datetime) -> Sequence[Any]:
        p = t.payments
        due = self._due(now).with_only_columns(p.c.id, p.c.next_query_at.label("was_due_at"))
        claimed = due.with_for_update(skip_locked=True).cte("claimed")
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    p.update()
                    .where(p.c.id == claimed.c.id)
                    .values(next_query_at=now + self.claim + self.query_timeout)
                    .returning(*p.c, claimed.c.was_due_at)
                )
            ).all()
        return sorted(rows, key=lambda r: r.was_due_at)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        await run_periodically("query-poller", interval, self.run_once, stop, wake=self.wake)

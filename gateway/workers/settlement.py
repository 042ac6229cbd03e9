"""The settlement worker: applies deferred settlements (asynchronous trade and fee settlement)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from core.errors import DomainError
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import utcnow
from gateway.storage import tables as t
from gateway.storage.rows import postings_from_json
from gateway.storage.uow import SqlUnitOfWork
from gateway.workers.loop import run_periodically
from ports.storage import FlowLogSink


class SettlementWorker:
    """Applies deferred settlements (asynchronous trade and fee settlement), trade before fee."""

    def __init__(
        self,
        uow: Callable[[], SqlUnitOfWork],
        flow: FlowLogSink,
        batch: int,
        retry_seconds: int = 300,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.flow = flow
        self.batch = batch
        self.retry_seconds = retry_seconds
        self.clock = clock

    async def run_once(self) -> int:
        now = self.clock()
        applied = 0
        for row in await self._due(now):
            applied += await self._settle(row, now)
        return applied

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        await run_periodically("settlement", interval, self.run_once, stop)

    async def _due(self, now: datetime) -> Sequence[Any]:
        """Pending settlements whose time has come and whose payment has no earlier one left."""
        d = t.deferred_settlements
        e = d.alias("earlier")
        earlier = (
            sa.select(sa.literal(1))
            .where(e.c.payment_id == d.c.payment_id, e.c.seq < d.c.seq, e.c.status != "applied")
            .exists()
        )
        async with self.uow() as uow:
            return (
                await uow.conn.execute(
                    sa.select(d)
                    .where(d.c.status == "pending", d.c.due_at <= now, ~earlier)
                    .order_by(d.c.id)
                    .limit(self.batch)
                )
            ).all()

    async def _settle(self, row: Any, now: datetime) -> int:
        """Post one settlement in its own transaction; 1 when applied, 0 when postponed."""
        d = t.deferred_settlements
        async with self.uow() as uow:
            if not await self._lock(uow, row, now):
                return 0
            try:
                txn = await uow.ledger.post(row.payment_id, postings_from_json(row.postings), at=now)
                await uow.conn.execute(
                    d.update()
                    .where(d.c.id == row.id, d.c.status == "pending")
                    .values(status="applied", applied_at=now, attempts=row.attempts + 1)
                )
                await uow.commit()
            except DomainError as exc:
                await uow.rollback()
                await self._postpone(uow, row, exc, now)
                return 0
        self._record(row, now, FlowOutcome.OK, f"{row.kind} settlement applied", {"txn_id": txn})
        return 1

    @staticmethod
    async def _lock(uow: SqlUnitOfWork, row: Any, now: datetime) -> bool:
        """On PostgreSQL, where several gateway processes settle one database: lock the row still
        pending and due, or skip it (another process is settling it, or has settled or postponed
        it). Posting and marking it applied then happen under that lock, so it is posted once."""
        if uow.conn.dialect.name == "sqlite":
            return True  # one gateway process per file, and its writes are serial
        d = t.deferred_settlements
        locked = await uow.conn.execute(
            sa.select(d.c.id)
            .where(d.c.id == row.id, d.c.status == "pending", d.c.due_at <= now)
            .with_for_update(skip_locked=True)
        )
        return locked.first() is not None

    async def _postpone(self, uow: SqlUnitOfWork, row: Any, exc: DomainError, now: datetime) -> None:
        """A refused posting (e.g. a short balance) is tried again after `retry_seconds`."""
        d = t.deferred_settlements
        await uow.conn.execute(
            d.update()
            .where(d.c.id == row.id)
            .values(
                attempts=row.attempts + 1,
                last_error=exc.message[:512],
                due_at=now + timedelta(seconds=self.retry_seconds),
            )
        )
        await uow.commit()
        self._record(
            row,
            now,
            FlowOutcome.FAILED,
            f"{row.kind} settlement postponed: {exc.message}",
            {"code": exc.code},
        )

    def _record(
        self, row: Any, now: datetime, outcome: FlowOutcome, message: str, detail: dict[str, Any]
    ) -> None:
        self.flow.record(FlowRecord(row.payment_id, FlowNode.LEDGER_POSTED, outcome, now, message, detail))

"""The settlement worker: applies deferred settlements (asynchronous trade and fee settlement)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.errors import DomainError
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import utcnow
from gateway.storage import tables as t
from gateway.storage.uow import SqlUnitOfWork, postings_from_json
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
        d = t.deferred_settlements
        e = d.alias("earlier")
        earlier = (
            sa.select(sa.literal(1))
            .where(e.c.payment_id == d.c.payment_id, e.c.seq < d.c.seq, e.c.status != "applied")
            .exists()
        )
        now = self.clock()
        applied = 0
        async with self.uow() as uow:
            rows = (
                await uow.conn.execute(
                    sa.select(d)
                    .where(d.c.status == "pending", d.c.due_at <= now, ~earlier)
                    .order_by(d.c.id)
                    .limit(self.batch)
                )
            ).all()
        for row in rows:
            async with self.uow() as uow:
                try:
                    txn = await uow.ledger.post(
                        row.payment_id, postings_from_json(row.postings), at=now
                    )
                    await uow.conn.execute(
                        d.update()
                        .where(d.c.id == row.id, d.c.status == "pending")
                        .values(status="applied", applied_at=now, attempts=row.attempts + 1)
                    )
                    await uow.commit()
                    applied += 1
                    self.flow.record(
                        FlowRecord(
                            row.payment_id,
                            FlowNode.LEDGER_POSTED,
                            FlowOutcome.OK,
                            now,
                            f"{row.kind} settlement applied",
                            {"txn_id": txn},
                        )
                    )
                except DomainError as exc:
                    await uow.rollback()
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
                    self.flow.record(
                        FlowRecord(
                            row.payment_id,
                            FlowNode.LEDGER_POSTED,
                            FlowOutcome.FAILED,
                            now,
                            f"{row.kind} settlement postponed: {exc.message}",
                            {"code": exc.code},
                        )
                    )
        return applied

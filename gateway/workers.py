"""Background workers: flow-log flusher, query poller, deferred settlement, webhook outbox."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import DomainError, NotFound
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import utcnow
from core.usecases.payments.service import PaymentService
from gateway.auth import NonceStore, signed_headers
from gateway.metrics import Metrics
from gateway.settings import PaygateSettings
from gateway.storage import tables as t
from gateway.storage.rows import payment_from_mapping, postings_from_json
from gateway.storage.uow import SqlUnitOfWork
from ports.storage import FlowLogSink

log = logging.getLogger("paygate.workers")


@contextlib.asynccontextmanager
async def write_tx(uow: Callable[[], SqlUnitOfWork]) -> AsyncIterator[AsyncConnection]:
    """A short write transaction through the unit of work (the SQLite writer's turn included)."""
    async with uow() as unit:
        yield unit.conn
        await unit.commit()


async def run_periodically(
    name: str, interval: float, step: Callable[[], Awaitable[Any]], stop: asyncio.Event
) -> None:
    """Run `step` every `interval` seconds until `stop`; a failing step is logged, not fatal."""
    while not stop.is_set():
        try:
            await step()
        except Exception:
            log.exception("worker step failed", extra={"worker": name})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


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


class OutboxDeliverer:
    """Delivers outbox events to each app's notify_url as signed webhooks, with back-off."""

    def __init__(
        self,
        uow: Callable[[], SqlUnitOfWork],
        settings: PaygateSettings,
        metrics: Metrics,
        session: Callable[[], aiohttp.ClientSession],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.settings = settings
        self.metrics = metrics
        self.session = session
        self.clock = clock

    async def _claim(self) -> list[Any]:
        """Lease up to a batch of due events in one statement: two gateway processes never
        deliver one event at once (PostgreSQL skips rows another claim has locked)."""
        o = t.outbox
        now = self.clock()
        lease = now + timedelta(seconds=self.settings.notify.lease_seconds)
        due = (
            sa.select(o.c.id)
            .where(
                o.c.status == "pending",
                o.c.next_attempt_at <= now,
                sa.or_(o.c.leased_until.is_(None), o.c.leased_until < now),
            )
            .order_by(o.c.next_attempt_at)
            .limit(self.settings.notify.batch_size)
        )
        if not self.settings.database.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        async with write_tx(self.uow) as conn:
            rows = (
                await conn.execute(
                    o.update().where(o.c.id.in_(due.scalar_subquery())).values(leased_until=lease).returning(o)
                )
            ).all()
        return sorted(rows, key=lambda r: r.next_attempt_at)

    async def run_once(self) -> int:
        rows = await self._claim()
        if rows:
            outcomes = await asyncio.gather(*(self._attempt(row) for row in rows))
            await self._record(rows, outcomes)
        return len(rows)

    async def deliver(self, row: Any) -> bool:
        """Deliver one claimed event and record the outcome."""
        error = await self._attempt(row)
        await self._record([row], [error])
        return error is None

    async def _attempt(self, row: Any) -> str | None:
        """POST the signed event to the app's notify_url; None when the app took it (2xx)."""
        app = self.settings.apps.get(row.app_id)
        if app is None or not app.notify_url:
            return f"app {row.app_id} has no notify_url"
        now = self.clock()
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        url = urlsplit(app.notify_url)
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        headers = signed_headers(
            row.app_id,
            app.secret.get_secret_value(),
            "POST",
            path,
            body,
            timestamp=int(now.timestamp()),
            nonce=secrets.token_hex(16),
        )
        headers.update({"X-Event-Id": row.id, "Content-Type": "application/json"})
        try:
            async with self.session().post(
                app.notify_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.settings.notify.timeout_seconds),
            ) as response:
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"[:500]

    async def _record(self, rows: list[Any], errors: list[str | None]) -> None:
        """Every outcome of a round in one transaction (one statement, many rows)."""
        o = t.outbox
        now = self.clock()
        schedule = self.settings.notify.retry_schedule_seconds
        changes = []
        for row, error in zip(rows, errors, strict=True):
            attempts = row.attempts + 1
            values: dict[str, Any] = {
                "oid": row.id,
                "status": "pending",
                "attempts": attempts,
                "leased_until": None,
                "last_error": error,
                "next_attempt_at": row.next_attempt_at,
                "delivered_at": row.delivered_at,
            }
            if error is None:
                values.update(status="delivered", delivered_at=now)
                self.metrics.notifications.labels("delivered").inc()
            elif attempts > len(schedule):
                values["status"] = "dead"
                self.metrics.notifications.labels("dead").inc()
            else:
                values["next_attempt_at"] = now + timedelta(seconds=schedule[attempts - 1])
                self.metrics.notifications.labels("failed").inc()
            changes.append(values)
        stmt = (
            o.update()
            .where(o.c.id == sa.bindparam("oid"))
            .values({name: sa.bindparam(name) for name in changes[0] if name != "oid"})
        )
        async with write_tx(self.uow) as conn:
            await conn.execute(stmt, changes)


def outbox_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "app_id": row.app_id,
        "event_type": row.event_type,
        "subject_id": row.subject_id,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
    }


class OutboxAdmin:
    """What operators see and do with deliveries and stuck payments."""

    def __init__(
        self,
        engine: AsyncEngine,
        uow: Callable[[], SqlUnitOfWork],
        flow: FlowLogSink,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.uow = uow
        self.flow = flow
        self.clock = clock

    async def deliveries(self, status: str, limit: int) -> list[dict[str, Any]]:
        o = t.outbox
        stmt = sa.select(o).order_by(o.c.created_at.desc()).limit(limit)
        if status == "failing":
            stmt = stmt.where(o.c.status == "pending", o.c.attempts > 0)
        else:
            stmt = stmt.where(o.c.status == status)
        async with self.engine.connect() as conn:
            return [outbox_json(r) for r in (await conn.execute(stmt)).all()]

    async def replay(self, event_id: str, actor: str) -> dict[str, Any]:
        o = t.outbox
        now = self.clock()
        async with write_tx(self.uow) as conn:
            row = (await conn.execute(sa.select(o).where(o.c.id == event_id))).first()
            if row is None:
                raise NotFound(
                    f"notification {event_id} does not exist", code="NOTIFICATION_NOT_FOUND"
                )
            await conn.execute(
                o.update()
                .where(o.c.id == event_id)
                .values(status="pending", attempts=0, next_attempt_at=now, leased_until=None)
            )
            row = (await conn.execute(sa.select(o).where(o.c.id == event_id))).first()
            assert row is not None
        self.flow.record(
            FlowRecord(
                row.subject_id,
                FlowNode.OPERATOR_ACTION,
                FlowOutcome.OK,
                now,
                f"notification {event_id} queued for replay",
                actor=actor,
            )
        )
        return outbox_json(row)

    async def stuck_payments(self, limit: int = 200) -> list[dict[str, Any]]:
        p = t.payments
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(
                        p.c.id,
                        p.c.app_id,
                        p.c.channel,
                        p.c.status,
                        p.c.query_attempts,
                        p.c.escalated,
                        p.c.next_query_at,
                        p.c.created_at,
                    )
                    .where(p.c.status.in_(("created", "processing", "unknown")))
                    .order_by(p.c.escalated.desc(), p.c.created_at)
                    .limit(limit)
                )
            ).all()
        return [
            {
                "id": r.id,
                "app_id": r.app_id,
                "channel": r.channel,
                "status": r.status,
                "query_attempts": r.query_attempts,
                "escalated": r.escalated,
                "next_query_at": r.next_query_at.isoformat() if r.next_query_at else None,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]


class FlowReader:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def timeline(self, subject_id: str) -> list[dict[str, Any]]:
        f = t.flow_log
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(f).where(f.c.subject_id == subject_id).order_by(f.c.id)
                )
            ).all()
        return [
            {
                "node": r.node,
                "outcome": r.outcome,
                "message": r.message,
                "detail": r.detail,
                "actor": r.actor,
                "at": r.at.isoformat(),
            }
            for r in rows
        ]


async def purge_nonces(nonces: NonceStore) -> None:
    await nonces.purge(utcnow())

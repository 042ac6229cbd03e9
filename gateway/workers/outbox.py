"""The outbox deliverer: signed webhooks to each app's notify_url, with retries and back-off."""

from __future__ import annotations

import asyncio
import collections
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.ids import utcnow
from gateway.auth import signed_headers
from gateway.metrics import Metrics
from gateway.settings import PaygateSettings
from gateway.storage import tables as t
from gateway.storage.uow import SqlUnitOfWork
from gateway.workers.leases import holder_id
from gateway.workers.loop import run_periodically, write_tx

# rounds of one drain out at once: one in flight while the next is claimed and queued behind it
ROUNDS_IN_FLIGHT = 2


@dataclass(frozen=True)
class Round:
    """A round's claimed events and the outcome of each (None: delivered)."""

    rows: list[Any]
    outcomes: list[str | None]


@dataclass(frozen=True)
class Drained:
    """What one drain did: the rounds it claimed (the last found nothing due, unless the drain
    was stopped) and the events it attempted in them (delivered or not)."""

    rounds: int
    attempted: int


class OutboxDeliverer:
    """Delivers outbox events to each app's notify_url as signed webhooks, with back-off.

    A drain runs rounds back to back while they find work, and claims the next round while the
    previous one is in flight, so no webhook slot idles between rounds; at most
    `notify.concurrency` webhooks are in flight at once over the one shared client session.
    Between drains it sleeps until `wake` is set (by this process's commits that queued events,
    gateway/storage) or `notify.poll_interval_seconds` have passed (events queued by another
    process, retries falling due)."""

    def __init__(
        self,
        uow: Callable[[], SqlUnitOfWork],
        settings: PaygateSettings,
        metrics: Metrics,
        session: Callable[[], aiohttp.ClientSession],
        clock: Callable[[], datetime] = utcnow,
        holder: str | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.uow = uow
        self.settings = settings
        self.metrics = metrics
        self.session = session
        self.clock = clock
        self.holder = holder or holder_id()
        self.wake = wake if wake is not None else asyncio.Event()
        self._in_flight = asyncio.Semaphore(settings.notify.concurrency)

    async def _claim(self, conn: AsyncConnection, limit: int | None = None) -> list[Any]:
        """Lease up to a batch of due events in one statement: two gateway processes never
        deliver one event at once (PostgreSQL skips rows another claim has locked). A process
        that dies holding a lease leaves its events to the others once `notify.lease_seconds`
        have passed (longer than a round's deliveries, so a live holder is done by then)."""
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
            .limit(limit or self.settings.notify.batch_size)
        )
        if not self.settings.database.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        rows = (
            await conn.execute(
                o.update()
                .where(o.c.id.in_(due.scalar_subquery()))
                .values(leased_until=lease, leased_by=self.holder)
                .returning(o)
            )
        ).all()
        return sorted(rows, key=lambda r: r.next_attempt_at)

    async def _deliver(self, rows: list[Any]) -> list[str | None]:
        return list(await asyncio.gather(*(self._attempt_in_turn(row) for row in rows)))

    async def run_once(self) -> int:
        """One round: claim a batch of due events, attempt each, record every outcome; how many
        events it claimed."""
        async with write_tx(self.uow) as conn:
            rows = await self._claim(conn)
        if rows:
            outcomes = await self._deliver(rows)
            async with write_tx(self.uow) as conn:
                await self._record(conn, rows, outcomes)
        return len(rows)

    async def drain(self, stop: asyncio.Event) -> Drained:
        """Rounds back to back until one claims nothing (or `stop` is set): a backlog larger than
        a batch is worked off at once, not one batch per poll interval.

        Pipelined: while a round is in flight and `wake` says events were committed since the
        last claim, the next round is claimed and its webhooks take the slots the first one
        frees, so none idles between rounds. At most `ROUNDS_IN_FLIGHT` rounds, together never
        more than `notify.batch_size` events, are out at once (so `notify.lease_seconds` still
        outlasts them). The outcomes of finished rounds are recorded in the write transaction
        of the next claim (one turn of the SQLite writer); every event is recorded (due again
        later, delivered or dead) before it can be claimed again, so the loop ends."""
        batch = self.settings.notify.batch_size
        flights: collections.deque[asyncio.Task[Round]] = collections.deque()
        out: dict[asyncio.Task[Round], int] = {}  # events per round in flight
        done: list[Round] = []
        rounds = attempted = 0
        try:
            while True:
                room = batch - sum(out.values())
                claim = (
                    not stop.is_set()
                    and len(flights) < ROUNDS_IN_FLIGHT
                    and room > 0
                    and (not flights or self.wake.is_set())
                )
                rows: list[Any] = []
                if done or claim:
                    async with write_tx(self.uow) as conn:
                        for finished in done:
                            await self._record(conn, finished.rows, finished.outcomes)
                        if claim:
                            self.wake.clear()  # what was committed before is visible to this claim
                            rows = await self._claim(conn, room)
                    done = []
                    rounds, attempted = rounds + claim, attempted + len(rows)
                if rows:
                    flights.append(asyncio.ensure_future(self._round(rows)))
                    out[flights[-1]] = len(rows)
                if not flights:
                    return Drained(rounds, attempted)
                more = len(flights) < ROUNDS_IN_FLIGHT and sum(out.values()) < batch
                await self._next_turn(flights[0], more and not stop.is_set())
                if flights[0].done():
                    del out[flights[0]]
                    done.append(flights.popleft().result())
        finally:
            for flight in flights:  # cancelled or failed: their leases expire, others deliver
                flight.cancel()

    async def _next_turn(self, oldest: asyncio.Task[Round], claimable: bool) -> None:
        """Wait until the oldest round in flight is done or, when another round may be claimed,
        until events are committed (`wake`)."""
        if not claimable:
            await asyncio.wait({oldest})
            return
        woken = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({oldest, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def _round(self, rows: list[Any]) -> Round:
        return Round(rows, await self._deliver(rows))

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Drain, then wait until `wake` is set or `interval` seconds have passed (or less, when
        stopped), until `stop`."""
        await run_periodically("outbox", interval, lambda: self.drain(stop), stop, wake=self.wake)

    async def _attempt_in_turn(self, row: Any) -> str | None:
        async with self._in_flight:
            return await self._attempt(row)

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

    async def _record(self, conn: AsyncConnection, rows: list[Any], errors: list[str | None]) -> None:
        """Every outcome of a round in one transaction (one statement, many rows); an event whose
        lease another process has taken over meanwhile is that process's to record."""
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
                "leased_by": None,
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
            .where(o.c.id == sa.bindparam("oid"), o.c.leased_by == self.holder)
            .values({name: sa.bindparam(name) for name in changes[0] if name != "oid"})
        )
        await conn.execute(stmt, changes)

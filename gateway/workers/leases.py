"""Leases that let several gateway processes share one database: who this process is, and the
round lease that lets only one process at a time run a worker's round."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import utcnow
from gateway.storage import tables as t

log = logging.getLogger("paygate.workers")


def holder_id() -> str:
    """This process among the gateway's processes: host, pid, and a random tail (a pid is reused)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


class RoundLease:
    """The right to run one worker's rounds (`name`), held by one process at a time (PostgreSQL).

    A holder renews its lease while it runs (at half its length, and during a long round); a
    holder that crashes stops renewing, so another process takes the lease over once it has
    expired. A table row rather than an advisory lock: it works through PgBouncer in transaction
    mode, and a lease that outlives its connection is what lets a stalled process be replaced."""

    def __init__(
        self,
        engine: AsyncEngine,
        name: str,
        holder: str,
        seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder
        self.length = timedelta(seconds=seconds)
        self.clock = clock
        self._until: datetime | None = None  # the end of the lease this process holds

    async def hold(self) -> bool:
        """Whether this process holds the lease now: taken when free or expired, renewed when
        half of it has passed; False while another process holds it."""
        now = self.clock()
        if self._until is not None and now < self._until - self.length / 2:
            return True
        self._until = await self._take(now)
        return self._until is not None

    async def _take(self, now: datetime) -> datetime | None:
        w = t.worker_leases
        until = now + self.length
        insert = postgresql.insert(w).values(name=self.name, holder=self.holder, leased_until=until)
        stmt = insert.on_conflict_do_update(
            index_elements=[w.c.name],
            set_={"holder": insert.excluded.holder, "leased_until": insert.excluded.leased_until},
            where=sa.or_(w.c.holder == self.holder, w.c.leased_until <= now),
        ).returning(w.c.leased_until)
        async with self.engine.begin() as conn:
            taken = (await conn.execute(stmt)).scalar_one_or_none()
        return until if taken is not None else None

    async def release(self) -> None:
        """At shut-down: the lease ends now, so another process need not wait for it to expire."""
        if self._until is None:
            return
        self._until = None
        w = t.worker_leases
        async with self.engine.begin() as conn:
            await conn.execute(
                w.update()
                .where(w.c.name == self.name, w.c.holder == self.holder)
                .values(leased_until=self.clock())
            )

    def guard(
        self, step: Callable[[], Awaitable[int]], idle: Callable[[], object] | None = None
    ) -> Callable[[], Awaitable[int]]:
        """`step`, run only while this process holds the lease (renewed while it runs); else
        `idle` is called and the round does nothing."""

        async def guarded() -> int:
            if not await self.hold():
                if idle is not None:
                    idle()
                return 0
            renewing = asyncio.create_task(self._renew_while_running())
            try:
                return await step()
            finally:
                renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewing

        return guarded

    async def _renew_while_running(self) -> None:
        """Keeps a long round's lease alive; a lease lost meanwhile (this process stalled longer
        than the lease) is logged: the round's own state checks keep the other process's work apart."""
        while True:
            await asyncio.sleep(self.length.total_seconds() / 3)
            try:
                held = await self.hold()
            except Exception:
                log.exception("worker lease renewal failed", extra={"worker": self.name})
                continue
            if not held:
                log.warning("worker lease lost during a round", extra={"worker": self.name})
                return

"""The shared loop of the background workers: run a step periodically, and short write transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.uow import SqlUnitOfWork
from gateway.workers.leases import RoundLease

log = logging.getLogger("paygate.workers")


@contextlib.asynccontextmanager
async def write_tx(uow: Callable[[], SqlUnitOfWork]) -> AsyncIterator[AsyncConnection]:
    """A short write transaction through the unit of work (the SQLite writer's turn included)."""
    async with uow() as unit:
        yield unit.conn
        await unit.commit()


async def run_periodically(
    name: str,
    interval: float,
    step: Callable[[], Awaitable[Any]],
    stop: asyncio.Event,
    wake: asyncio.Event | None = None,
    lease: RoundLease | None = None,
    idle: Callable[[], object] | None = None,
) -> None:
    """Run `step` every `interval` seconds, and at once whenever `wake` is set, until `stop`;
    a failing step is logged, not fatal. With a `lease`, only while this process holds it
    (else `idle`, which must clear `wake`), released at the end so another process takes
    over at once."""
    if lease is not None:
        step = lease.guard(step, idle=idle or (wake.clear if wake is not None else None))
    try:
        while not stop.is_set():
            try:
                await step()
            except Exception:
                log.exception("worker step failed", extra={"worker": name})
            await _pause(interval, stop, wake)
    finally:
        if lease is not None:
            with contextlib.suppress(Exception):
                await lease.release()


async def _pause(interval: float, stop: asyncio.Event, wake: asyncio.Event | None) -> None:
    """Wait `interval` seconds, or less when `stop` (or `wake`) is set meanwhile."""
    if wake is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
        return
    waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())}
    try:
        await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter

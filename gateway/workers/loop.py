"""The shared loop of the background workers: run a step periodically, and short write transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.uow import SqlUnitOfWork

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

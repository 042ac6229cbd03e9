"""The nonce purge: forgets nonces too old to be replayed (their timestamp is refused anyway)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from core.ids import utcnow
from gateway.auth import NonceStore
from gateway.workers.loop import run_periodically


class NoncePurge:
    """Deletes the nonces older than twice the clock-skew window, so the nonce table stays small."""

    def __init__(self, nonces: NonceStore, clock: Callable[[], datetime] = utcnow) -> None:
        self.nonces = nonces
        self.clock = clock

    async def run_once(self) -> int:
        return await self.nonces.purge(self.clock())

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        await run_periodically("nonce-purge", interval, self.run_once, stop)

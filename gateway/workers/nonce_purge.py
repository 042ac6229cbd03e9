"""The nonce purge: forgets nonces too old to be replayed."""

from __future__ import annotations

from core.ids import utcnow
from gateway.auth import NonceStore


async def purge_nonces(nonces: NonceStore) -> None:
    await nonces.purge(utcnow())

"""The nonce claim on PostgreSQL: one statement, one round trip, no wait for a disk flush."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.pg_ledger import driver_connection
from gateway.storage.pg_rows import NONCE

# One statement in autocommit mode (no BEGIN and COMMIT round trips), on the pool connection's
# own asyncpg driver (no SQLAlchemy statement to build); a nonce already seen inserts nothing and
# returns no row (no error, so nothing to roll back).
# set_config(..., true) is SET LOCAL synchronous_commit = off for this statement's own
# transaction: its commit does not wait for the WAL flush. That is safe because the WAL is
# flushed in order: whatever the request then commits durably (a payment, a posting) flushes
# the nonce with it, so a crash can lose only the nonce of a request that left nothing durable
# behind, whose replay the idempotency keys (out_request_no) answer anyway.
_CLAIM = (
    "INSERT INTO nonces (app_id, nonce, seen_at) "
    "SELECT $1::varchar, $2::varchar, $3::timestamptz "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_flush_wait "
    "ON CONFLICT DO NOTHING RETURNING 1"
)


async def claim_nonce_autocommit(engine: AsyncEngine, app_id: str, nonce: str, at: datetime) -> bool:
    """True if (app_id, nonce) was not seen before, and is recorded now."""
    async with engine.connect() as sa_conn:
        conn = await driver_connection(sa_conn)
        claimed = await conn.fetchval(_CLAIM, app_id, nonce, NONCE.value("seen_at", at))
    return claimed is not None

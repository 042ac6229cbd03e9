"""The nonce claim on PostgreSQL: one statement, one round trip, no wait for a disk flush."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.tables import UTCDateTime

# One statement in autocommit mode (no BEGIN and COMMIT round trips); a nonce already seen
# inserts nothing and returns no row (no error, so nothing to roll back).
# set_config(..., true) is SET LOCAL synchronous_commit = off for this statement's own
# transaction: its commit does not wait for the WAL flush. That is safe because the WAL is
# flushed in order: whatever the request then commits durably (a payment, a posting) flushes
# the nonce with it, so a crash can lose only the nonce of a request that left nothing durable
# behind, whose replay the idempotency keys (out_request_no) answer anyway.
_CLAIM = sa.text(
    "INSERT INTO nonces (app_id, nonce, seen_at) "
    "SELECT CAST(:app_id AS VARCHAR), CAST(:nonce AS VARCHAR), CAST(:seen_at AS TIMESTAMPTZ) "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS no_flush_wait "
    "ON CONFLICT DO NOTHING RETURNING 1"
).bindparams(sa.bindparam("seen_at", type_=UTCDateTime()))


async def claim_nonce_autocommit(engine: AsyncEngine, app_id: str, nonce: str, at: datetime) -> bool:
    """True if (app_id, nonce) was not seen before, and is recorded now."""
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        row = (await autocommit.execute(_CLAIM, {"app_id": app_id, "nonce": nonce, "seen_at": at})).first()
    return row is not None

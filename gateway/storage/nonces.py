"""The nonce claims on PostgreSQL: sent together, one statement and one round trip for all the
claims that arrive while the previous statement is on its way, with no wait for a disk flush.

Every signed /v1 request claims its nonce before it is handled, so under load the claims of
many requests are pending at once. `PgNonceClaims` keeps at most one claiming statement in
flight: a claim that arrives meanwhile joins the next one. A lone claim goes at once (no timer,
no added latency); 32 concurrent callers share a round trip among several requests.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.pg_ledger import pooled_driver_connection
from gateway.storage.pg_rows import NONCE

# One statement in autocommit mode (no BEGIN and COMMIT round trips), on the pool connection's
# own asyncpg driver (no SQLAlchemy statement to build); a nonce already seen inserts nothing and
# is not returned (no error, so nothing to roll back).
# set_config(..., true) is SET LOCAL synchronous_commit = off for this statement's own
# transaction: its commit does not wait for the WAL flush. That is safe because the WAL is
# flushed in order: whatever a request then commits durably (a payment, a posting) flushes
# its nonce with it, so a crash can lose only the nonce of a request that left nothing durable
# behind, whose replay the idempotency keys (out_request_no) answer anyway.
# The rows are inserted in key order: two processes claiming the same nonces at once (a replay
# sent to both) then wait on each other's keys in the same order, never in a deadlock.
_CLAIM = (
    "INSERT INTO nonces (app_id, nonce, seen_at) "
    "SELECT u.app_id, u.nonce, u.seen_at "
    "FROM unnest($1::varchar[], $2::varchar[], $3::timestamptz[]) AS u(app_id, nonce, seen_at), "
    "(SELECT set_config('synchronous_commit', 'off', true)) AS no_flush_wait "
    "ORDER BY u.app_id, u.nonce "
    "ON CONFLICT DO NOTHING RETURNING app_id, nonce"
)

Key = tuple[str, str]  # (app_id, nonce)


class PgNonceClaims:
    """Claims (app_id, nonce), batched as the module's docstring says. `statements` counts the
    claiming statements sent (it shows the batching at work)."""

    def __init__(self, engine: AsyncEngine, max_batch: int = 500) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.statements = 0
        self._pending: dict[Key, tuple[datetime, asyncio.Future[bool]]] = {}
        self._sender: asyncio.Task[None] | None = None

    async def claim(self, app_id: str, nonce: str, at: datetime) -> bool:
        """True if (app_id, nonce) was not seen before, and is recorded now."""
        key = (app_id, nonce)
        if key in self._pending:  # the same nonce twice in one batch: the second is a replay
            return False
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending[key] = (at, answer)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_while_pending())
        # shielded: a caller that goes away does not cancel the claims it shares a statement with
        return await asyncio.shield(answer)

    async def _send_while_pending(self) -> None:
        try:
            while self._pending:
                batch = dict(list(self._pending.items())[: self.max_batch])
                for key in batch:
                    del self._pending[key]
                await self._send(batch)
        finally:
            self._sender = None
            for _at, answer in self._pending.values():  # only when the task itself was cancelled
                if not answer.done():
                    answer.cancel()
            self._pending.clear()

    async def _send(self, batch: dict[Key, tuple[datetime, asyncio.Future[bool]]]) -> None:
        keys = list(batch)
        try:
            async with pooled_driver_connection(self.engine) as (conn, _pooled):
                self.statements += 1
                rows = await conn.fetch(
                    _CLAIM,
                    [app_id for app_id, _ in keys],
                    [nonce for _, nonce in keys],
                    [NONCE.value("seen_at", at) for at, _ in batch.values()],
                )
        except BaseException as exc:  # every claim of the batch gets the error (the request fails)
            for _at, answer in batch.values():
                if not answer.done():
                    answer.set_exception(exc if isinstance(exc, Exception) else RuntimeError(str(exc)))
            if not isinstance(exc, Exception):
                raise
            return
        claimed = {(row["app_id"], row["nonce"]) for row in rows}
        for key, (_at, answer) in batch.items():
            if not answer.done():
                answer.set_result(key in claimed)

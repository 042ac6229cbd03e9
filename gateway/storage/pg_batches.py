"""Ledger statements sent together: a group commit for PostgreSQL.

A settled transfer's work is one statement in autocommit (gateway/storage/pg_ledger.py), and its
text does not depend on its rows, so under load many works wait to send the same text. Sending
each alone costs a round trip, a socket write on both sides (on loopback TCP the write wakes
the server's backend) and a commit. `StatementBatches` keeps at most one send of a text in
flight per process; the statements of that text that arrive meanwhile go together as the next
send: one `executemany` over the connection of the first of them, pipelined (one write, one
Sync), which PostgreSQL runs as **one implicit transaction**: all of them commit, durably and
together, or none does. A lone statement goes at once (no timer, no added latency); the busier
the process, the more statements share a commit.

When a batch is refused (a check of one statement called `paygate_refuse`, a deadlock, any error
the server reports with severity ERROR), nothing of it stayed: every statement is then sent
again alone, on its own connection, and answers as it would have alone (a repeat as a repeat,
a refused posting with its refusal). Any other failure (the connection lost, a timeout, a fatal
error) leaves the outcome unknown: every statement of the batch raises it, as a lone statement
would.

Lock order: the statements' accounts are locked in id order within each statement, but a batch
runs several statements in one transaction, so it could hold one account while waiting for
another that a concurrent batch holds. The first statement of a batch therefore locks every
account of the whole batch, in id order, before it changes any (`locks`): the batch takes all
its locks in one sorted sweep, as a lone statement does, and two of them wait instead of
deadlocking. One wait is left outside that sweep: two statements inserting the same payment
key (one request sent twice at once) wait on each other's insert, so a batch that holds accounts
can meet a lone statement in a deadlock. PostgreSQL then rolls one of them back: a batch is sent
again statement by statement, and a lone statement is sent again (up to three times), since
nothing of it stayed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from gateway.storage.pg_statement import Statement

_DEADLOCK_ATTEMPTS = 3
_ALONE = object()  # the batch was refused as a whole: send the statement again on its own


@dataclass(eq=False)
class _Member:
    conn: asyncpg.Connection
    held: Statement
    answer: asyncio.Future[object]


@dataclass
class StatementBatches:
    """Sends autocommit statements, batched by text as the module's docstring says. It counts
    `round_trips` (a lone statement, a batch, a statement sent again), `statements` (those of
    a batch each) and `refused_batches` (rolled back as a whole, their statements sent again)."""

    max_batch: int = 32
    round_trips: int = 0
    statements: int = 0
    refused_batches: int = 0
    _busy: set[str] = field(default_factory=set)
    _pending: dict[str, list[_Member]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def send(self, conn: asyncpg.Connection, held: Statement) -> None:
        """Runs `held` as its own transaction, alone or in a batch; raises what the statement
        alone would raise."""
        sql = held.sql()
        if sql not in self._busy:
            self._busy.add(sql)
            try:
                await self._alone(conn, sql, held.args)
            finally:
                self._next(sql)
            return
        member = _Member(conn, held, asyncio.get_running_loop().create_future())
        self._pending.setdefault(sql, []).append(member)
        if await self._wait(sql, member) is _ALONE:
            await self._alone(conn, sql, held.args)

    async def _alone(self, conn: asyncpg.Connection, sql: str, args: Sequence[Any]) -> None:
        for attempt in range(_DEADLOCK_ATTEMPTS):
            self.round_trips += 1
            self.statements += 1
            try:
                await conn.execute(sql, *args)
                return
            except asyncpg.DeadlockDetectedError:  # rolled back, so sent again (see above)
                if attempt == _DEADLOCK_ATTEMPTS - 1:
                    raise

    def _next(self, sql: str) -> None:
        group = self._pending.pop(sql, [])
        if len(group) > self.max_batch:
            self._pending[sql] = group[self.max_batch :]
            group = group[: self.max_batch]
        if not group:
            self._busy.discard(sql)
            return
        task = asyncio.create_task(self._run(sql, group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, sql: str, group: list[_Member]) -> None:
        # a connection the server closed meanwhile would fail the batch before sending it
        carrier = next((m for m in group if not m.conn.is_closed()), None)
        outcome: object = _ALONE  # with no open connection, each goes alone and fails as its own
        try:
            if len(group) == 1:
                await self._alone(group[0].conn, sql, group[0].held.args)
                outcome = None
            elif carrier is not None:
                members = [carrier] + [m for m in group if m is not carrier]
                self.round_trips += 1
                self.statements += len(group)
                await carrier.conn.executemany(sql, _batch_args(members))
                outcome = None
        except asyncpg.PostgresError as exc:
            refused = len(group) > 1 and _rolled_back(exc)
            self.refused_batches += refused
            outcome = _ALONE if refused else exc
        except BaseException as exc:  # the outcome is unknown: every member raises it
            outcome = exc if isinstance(exc, Exception) else RuntimeError(f"the batch ended: {exc!r}")
            if not isinstance(exc, Exception):
                raise
        finally:
            for member in group:
                member.answer.set_result(outcome)
            self._next(sql)

    async def _wait(self, sql: str, member: _Member) -> object:
        """The member's answer. Cancelled before its batch started, it leaves the queue; once
        started, it waits for the batch to end whatever happens (the batch may be running on
        its connection, which must not go back to the pool under it), then is cancelled."""
        cancelled = False
        while True:
            try:
                result = await asyncio.shield(member.answer)
            except asyncio.CancelledError:
                queue = self._pending.get(sql, [])
                if member in queue:  # not started: still queued
                    queue.remove(member)
                    raise
                cancelled = True
                continue
            if cancelled:
                raise asyncio.CancelledError
            if isinstance(result, BaseException):
                raise result
            return result


def _batch_args(group: list[_Member]) -> list[Sequence[Any]]:
    """Every member's parameters; the first statement's lock parameter names the accounts of
    them all, in id order (see the module's docstring)."""
    rows: list[Sequence[Any]] = [m.held.args for m in group]
    first = group[0].held
    if first.lock_at is not None:
        everyone = sorted({account for m in group for account in m.held.accounts})
        locking = list(first.args)
        locking[first.lock_at] = everyone
        rows[0] = locking
    return rows


def _rolled_back(exc: asyncpg.PostgresError) -> bool:
    """An error the server reports with severity ERROR aborts the transaction it happened in
    (after a commit, PostgreSQL can only fail with FATAL or PANIC): nothing of the batch stayed."""
    return getattr(exc, "severity_en", None) == "ERROR" or getattr(exc, "severity", None) == "ERROR"

"""The unit of work of the SQLite writer thread: the storage ports over a plain sqlite3 connection.

The use cases' code is async and written against the storage ports (`ports/storage.py`). Inside
a group commit of the SQLite writer, the same code runs on the writer's thread over these
repositories: their methods are `async def` but never wait, so `drive()` runs the use case's
coroutine to its end in one step, with no event loop. Anything that would wait (a channel call,
a SQLAlchemy connection) is refused with an error and rolls back its savepoint.

Rows are written with SQLAlchemy's own conversions of the columns (gateway/storage/sqlite_columns.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any, TypeVar

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import new_id
from core.ledger import AccountView, NewAccount, Posting, SubAccount, balance_limit, check_balanced
from core.payments.model import Payment
from gateway.storage.rows import (
    account_from_mapping,
    account_row,
    deferred_rows,
    entry_rows,
    exchange_rows,
    net_changes,
    new_payment_row,
    outbox_row,
    payment_changes,
    payment_from_mapping,
    stored_refusal,
    transfer_row,
)
from gateway.storage.sqlite_columns import (
    ACCOUNT,
    ACCOUNT_VIEW,
    DEFERRED,
    ENTRY,
    EXCHANGE,
    FLOW,
    NONCE,
    OUTBOX,
    PAYMENT,
    PAYMENT_BY_ID,
    PAYMENT_BY_REQUEST,
    TRANSFER,
    TXN,
    json_text,
    payment_update,
    utc_text,
)
from gateway.storage.sqlite_writer import SqliteWriter
from ports.channels import DeferredPostings, Exchange
from ports.storage import (
    Accounts,
    ConcurrentUpdate,
    DuplicateRequest,
    Ledger,
    LedgerWork,
    Outbox,
    PaymentRepository,
)

T = TypeVar("T")


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits to its end, here and now."""
    try:
        waited_on = coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError(f"work in the SQLite writer waited on {waited_on!r}: it may only use its unit of work")


class SqlitePayments:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def add(self, payment: Payment, **schedule: Any) -> None:
        values = new_payment_row(payment, schedule)
        try:
            self.conn.execute(PAYMENT.insert, PAYMENT.params(values))
        except sqlite3.IntegrityError as exc:
            raise DuplicateRequest(payment.out_request_no) from exc

    def _one(self, sql: str, *args: Any) -> Payment | None:
        row = self.conn.execute(sql, args).fetchone()
        return payment_from_mapping(PAYMENT.mapping(row)) if row else None

    async def get(self, payment_id: str) -> Payment | None:
        return self._one(PAYMENT_BY_ID, payment_id)

    async def get_for_update(self, payment_id: str) -> Payment | None:
        return self._one(PAYMENT_BY_ID, payment_id)  # the writer's transaction is the lock

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        return self._one(PAYMENT_BY_REQUEST, app_id, out_request_no)

    async def save(self, payment: Payment, *, expected_status: str, **schedule: Any) -> None:
        values = payment_changes(payment, schedule)
        columns, sql = payment_update(tuple(values))
        cursor = self.conn.execute(sql, (*columns.params(values), payment.id, expected_status))
        if cursor.rowcount != 1:
            raise ConcurrentUpdate(payment.id)


class SqliteLedger:
    """The same conditional updates as the SQLAlchemy ledger: never below zero without overdraft."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def post(self, subject_id: str, postings: Sequence[Posting], *, at: datetime) -> str:
        check_balanced(postings)
        txn_id = new_id("txn")
        self.conn.execute(TXN.insert, TXN.params({"id": txn_id, "subject_id": subject_id, "created_at": at}))
        net, currency_of = net_changes(postings)
        balance_after: dict[tuple[str, SubAccount], int] = {}
        for (account_id, sub), delta in sorted(net.items()):
            column = "available_minor" if sub is SubAccount.AVAILABLE else "pending_minor"
            limit = balance_limit(currency_of[account_id])
            sql = (
                f"UPDATE accounts SET {column} = {column} + ? WHERE id = ? AND currency = ?"
                f" AND {column} + ? BETWEEN ? AND ?"  # both within the limit: no overflow
            )
            args: tuple[Any, ...] = (delta, account_id, currency_of[account_id], delta, -limit, limit)
            if delta < 0:
                sql += f" AND (allow_overdraft OR {column} + ? >= 0)"
                args += (delta,)
            row = self.conn.execute(sql + f" RETURNING {column}", args).fetchone()
            if row is None:
                self._refuse(account_id, currency_of[account_id], sub, delta)
            balance_after[(account_id, sub)] = row[0] - delta
        entries = [ENTRY.params(r) for r in entry_rows(txn_id, postings, balance_after, at)]
        self.conn.executemany(ENTRY.insert, entries)
        return txn_id

    def _refuse(self, account_id: str, currency: str, sub: SubAccount, delta: int) -> None:
        found = self.conn.execute(
            "SELECT currency, available_minor, pending_minor FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        raise stored_refusal(account_id, found, currency, {sub: delta})


class SqliteOutbox:
    def __init__(self, conn: sqlite3.Connection, subscribers: frozenset[str] | None = None) -> None:
        self.conn = conn
        self.subscribers = subscribers  # as SqlOutbox's
        self.queued = 0  # as SqlOutbox's

    async def enqueue(
        self, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], *, at: datetime
    ) -> str | None:
        if self.subscribers is not None and app_id not in self.subscribers:
            return None
        event_id = new_id("evt")
        row = outbox_row(event_id, app_id, event_type, subject_id, payload, at)
        self.conn.execute(OUTBOX.insert, OUTBOX.params(row))
        self.queued += 1
        return event_id


class SqliteAccounts:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def visible(self, app_id: str, ids: Sequence[str]) -> dict[str, AccountView]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        sql = ACCOUNT_VIEW.select_sql(f"app_id = ? AND id IN ({', '.join('?' * len(unique))})")
        rows = self.conn.execute(sql, (app_id, *unique)).fetchall()
        return {row[0]: account_from_mapping(ACCOUNT_VIEW.mapping(row)) for row in rows}

    async def open(self, account: NewAccount, *, at: datetime) -> None:
        self.conn.execute(ACCOUNT.insert, ACCOUNT.params(account_row(account, at)))

    async def open_if_missing(self, account: NewAccount, *, at: datetime) -> None:
        self.conn.execute(ACCOUNT.insert_if_missing, ACCOUNT.params(account_row(account, at)))


class SqliteUnitOfWork:
    """A ledger payment's `LedgerWork` inside one job of the writer, which commits (or rolls back)
    its group. It stores no workflow's records: a work that needs them takes a `UnitOfWork`,
    which `Transactions` never hands out (ports/storage.py)."""

    def __init__(self, conn: sqlite3.Connection, subscribers: frozenset[str] | None = None) -> None:
        self.conn = conn
        self.payments: PaymentRepository = SqlitePayments(conn)
        self.ledger: Ledger = SqliteLedger(conn)
        self.events = SqliteOutbox(conn, subscribers)
        self.outbox: Outbox = self.events
        self.accounts: Accounts = SqliteAccounts(conn)

    async def record_transfer(self, payment: Payment, txn_id: str, *, at: datetime) -> None:
        self.conn.execute(TRANSFER.insert, TRANSFER.params(transfer_row(payment, txn_id, at)))

    async def record_exchanges(
        self, payment_id: str, channel: str, exchanges: Sequence[Exchange], *, at: datetime
    ) -> None:
        rows = exchange_rows(payment_id, channel, exchanges, at)
        self.conn.executemany(EXCHANGE.insert, [EXCHANGE.params(r) for r in rows])

    async def add_deferred(
        self, payment_id: str, deferred: Sequence[DeferredPostings], *, at: datetime
    ) -> None:
        rows = deferred_rows(payment_id, deferred, at)
        self.conn.executemany(DEFERRED.insert, [DEFERRED.params(r) for r in rows])

    async def write_flow(self, records: Sequence[FlowRecord]) -> None:
        write_flow(self.conn, records)  # inside this job's savepoint: gone if the job fails


_ENUM_TEXT: dict[Any, str] = {m: m.value for e in (FlowNode, FlowOutcome) for m in e}


def write_flow(conn: sqlite3.Connection, records: Sequence[FlowRecord]) -> None:
    # the hottest insert (eight rows per transfer): tuples built directly, in FLOW's order
    conn.executemany(
        FLOW.insert,
        [
            (
                r.subject_id,
                _ENUM_TEXT[r.node],
                _ENUM_TEXT[r.outcome],
                r.message[:512],
                json_text(r.detail),
                r.actor,
                utc_text(r.at),
            )
            for r in records
        ],
    )


def claim_nonce(conn: sqlite3.Connection, app_id: str, nonce: str, at: datetime) -> bool:
    try:
        conn.execute(NONCE.insert, NONCE.params({"app_id": app_id, "nonce": nonce, "seen_at": at}))
    except sqlite3.IntegrityError:
        return False
    return True


def purge_nonces(conn: sqlite3.Connection, before: datetime) -> int:
    return conn.execute("DELETE FROM nonces WHERE seen_at < ?", (utc_text(before),)).rowcount


class WriterTransactions:
    """`transact(work)` on SQLite: `work` runs in the writer's next group commit. Once a work
    that queued outbox events has committed, `events_committed` is set (it wakes the deliverer)."""

    def __init__(
        self,
        writer: SqliteWriter,
        subscribers: frozenset[str] | None = None,
        events_committed: asyncio.Event | None = None,
    ) -> None:
        self.writer = writer
        self.subscribers = subscribers
        self.events_committed = events_committed

    async def __call__(self, work: Callable[[LedgerWork], Awaitable[T]]) -> T:
        units: list[SqliteUnitOfWork] = []

        def job(conn: sqlite3.Connection) -> T:
            units.append(SqliteUnitOfWork(conn, self.subscribers))
            return drive(_as_coroutine(work(units[-1])))

        result = await self.writer.run(job)
        if self.events_committed is not None and units and units[-1].events.queued:
            self.events_committed.set()
        return result


def _as_coroutine(awaitable: Awaitable[T]) -> Coroutine[Any, Any, T]:
    if not isinstance(awaitable, Coroutine):
        raise TypeError("transaction work must be a coroutine function")
    return awaitable

"""The SQL unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.flowlog import FlowRecord
from core.payments.model import Payment
from gateway.storage import tables as t
from gateway.storage.bills import SqlBills
from gateway.storage.lease import SqlLeaseOrders
from gateway.storage.payouts import SqlPayouts
from gateway.storage.rows import deferred_rows, exchange_rows, flow_rows, transfer_row
from gateway.storage.sql_repositories import SqlAccounts, SqlLedger, SqlOutbox, SqlPayments
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.trades import SqlTradeRows
from gateway.storage.write_behind import WriteBehind
from ports.after_commit import AfterCommit, AfterCommitActions
from ports.bills import BillRepository
from ports.channels import DeferredPostings, Exchange
from ports.lease import LeaseRepository
from ports.payouts import PayoutRepository
from ports.storage import Accounts, Ledger, Outbox, PaymentRepository
from ports.trades import TradeRepository


class SqlUnitOfWork:
    """`async with uow:` opens a transaction; `commit()` makes it durable, leaving rolls back.

    On SQLite, a writer takes its turn from the process's SQLite writer (gateway/storage/
    sqlite_writer.py) so writers never fight over the database lock; PostgreSQL relies on row
    locks and conditional updates. A commit of a transaction that queued outbox events sets
    `events_committed` (it wakes the deliverer of this process). The actions given to
    `after_commit` run when a committed unit of work is left: its connection closed and its
    writer's turn released, so an action (the payee's SMS) holds no lock and no turn.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        writer: SqliteWriter | None,
        subscribers: frozenset[str] | None = None,
        events_committed: asyncio.Event | None = None,
    ) -> None:
        self.engine = engine
        self._writer = writer
        self._subscribers = subscribers
        self._events_committed = events_committed
        self._events: SqlOutbox | None = None
        self._turn: AbstractAsyncContextManager[None] | None = None
        self._conn: AsyncConnection | None = None
        self._behind: WriteBehind | None = None
        self._after = AfterCommitActions()
        self.committed = False

    @property
    def conn(self) -> AsyncConnection:
        assert self._conn is not None, "unit of work used outside `async with`"
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
        self._after = AfterCommitActions()
        if self._writer is not None:
            self._turn = self._writer.turn()
            await self._turn.__aenter__()
        try:
            self._conn = await self.engine.connect()
            if self._writer is not None:
                await self._conn.execution_options(sqlite_begin="immediate")
            await self._conn.begin()
        except BaseException:
            if self._conn is not None:
                await self._conn.close()
                self._conn = None
            await self._release()
            raise
        # typed as the ports: a SqlUnitOfWork is a UnitOfWork (the ports' attributes are invariant)
        # PostgreSQL: some inserts wait to ride along with the payment's write (one round trip)
        self._behind = WriteBehind() if self._conn.dialect.name == "postgresql" else None
        self.payments: PaymentRepository = SqlPayments(self._conn, self._behind)
        self.ledger: Ledger = SqlLedger(self._conn)
        self._events = SqlOutbox(self._conn, self._subscribers, self._behind)
        self.outbox: Outbox = self._events
        self.accounts: Accounts = SqlAccounts(self._conn)
        self.bills: BillRepository = SqlBills(self._conn)
        self.lease_orders: LeaseRepository = SqlLeaseOrders(self._conn)
        self.payouts: PayoutRepository = SqlPayouts(self._conn)
        self.trades: TradeRepository = SqlTradeRows(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._conn is not None:
                if self._conn.in_transaction():
                    await self._conn.rollback()
                await self._conn.close()
        finally:
            self._conn = None
            self._behind = None
            await self._release()
        # the transaction is over, its connection and writer's turn given back: now what waited
        # for its commit runs (inline: the caller waits for it, each action bounds its own time)
        await self._after.run()

    async def _release(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            await turn.__aexit__(None, None, None)

    async def commit(self) -> None:
        if self._behind is not None:
            await self._behind.flush(self.conn)
        await self.conn.commit()
        self.committed = True
        self._after.committed()
        if self._events_committed is not None and self._events is not None and self._events.queued:
            self._events_committed.set()

    async def rollback(self) -> None:
        if self._behind is not None:
            self._behind.discard()
        self._after.rolled_back()
        await self.conn.rollback()

    def after_commit(self, action: AfterCommit) -> None:
        """Run `action` once this transaction has committed and the unit of work is left."""
        self._after.add(action)

    async def record_transfer(self, payment: Payment, txn_id: str, *, at: datetime) -> None:
        if self._behind is not None:
            self._behind.insert(t.transfer_logs, transfer_row(payment, txn_id, at))
            return
        await self.conn.execute(t.transfer_logs.insert().values(**transfer_row(payment, txn_id, at)))

    async def record_exchanges(
        self, payment_id: str, channel: str, exchanges: Sequence[Exchange], *, at: datetime
    ) -> None:
        await self.conn.execute(
            t.channel_exchanges.insert(), exchange_rows(payment_id, channel, exchanges, at)
        )

    async def add_deferred(
        self, payment_id: str, deferred: Sequence[DeferredPostings], *, at: datetime
    ) -> None:
        if deferred:
            await self.conn.execute(t.deferred_settlements.insert(), deferred_rows(payment_id, deferred, at))

    async def write_flow(self, records: Sequence[FlowRecord]) -> None:
        """In this transaction: on PostgreSQL riding along with its next payment write."""
        if not records:
            return
        if self._behind is not None:
            self._behind.insert_many(t.flow_log, flow_rows(records))
            return
        await self.conn.execute(t.flow_log.insert(), flow_rows(records))

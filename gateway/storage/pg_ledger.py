"""A ledger payment's work on PostgreSQL, in as few round trips as it allows: one, usually.

The use case writes through the `LedgerWork` ports (post the ledger, record the transfer, queue
the event, write the flow log, insert the payment). Here those writes are held and sent together
as the data-modifying CTEs of **one statement**, over the pool connection's own asyncpg driver
(no SQLAlchemy statement to compile, every text prepared once per connection). A work that only
writes — a settled transfer — is that one statement in autocommit: PostgreSQL runs a statement
as a transaction of its own, so it commits (durably) or leaves nothing. Its checks are part of
it: a repeated request, a balance that would go below zero (or an account of another currency),
a payment changed meanwhile call `paygate_refuse()` (migration 0015), which fails the statement,
and the gateway raises the port's error (DuplicateRequest, InsufficientFunds, NotFound,
ConcurrentUpdate) from its message. A repeat is checked first, so it is answered as a repeat.

Those statements in their own transaction go through the process's `StatementBatches`
(gateway/storage/pg_batches.py): under load, several share one round trip and one commit.

A work that reads (a payment, accounts) or opens an account gets an explicit transaction: BEGIN
at its first read, the writes held so far sent before the read sees them, the rest sent at the
end before COMMIT. Two writes that touch the same rows (two postings, a payment inserted and
then updated) never share a statement: the first is sent before the second is held.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from core.flowlog import FlowRecord
from core.ids import new_id
from core.ledger import AccountView, NewAccount, Posting, SubAccount, check_balanced
from core.payments.model import Payment
from gateway.storage.pg_batches import StatementBatches
from gateway.storage.pg_postings import hold_posting
from gateway.storage.pg_rows import (
    ACCOUNT,
    ACCOUNT_VIEW,
    DEFERRED,
    EXCHANGE,
    FLOW,
    OUTBOX,
    PAYMENT,
    TRANSFER,
)
from gateway.storage.pg_statement import Statement
from gateway.storage.rows import (
    account_from_mapping,
    account_row,
    beyond_limit,
    deferred_rows,
    exchange_rows,
    flow_rows,
    net_changes,
    new_payment_row,
    outbox_row,
    payment_changes,
    payment_from_mapping,
    posting_refusal,
    transfer_row,
)
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
from ports.work_guard import only_its_own_waits

T = TypeVar("T")


DUPLICATE, CHANGED, LEDGER = 0, 1, 2  # the order of the checks: a repeat is told as a repeat


class PgLedgerWork:
    """`LedgerWork` over one asyncpg connection (see the module's docstring)."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        subscribers: frozenset[str] | None = None,
        batches: StatementBatches | None = None,
    ) -> None:
        self.conn = conn
        self.batches = batches
        self.held = Statement()
        self.begun = False
        self.refused = False  # a check failed: the work's writes are gone, it must end
        # typed as the ports: a PgLedgerWork is a LedgerWork (the ports' attributes are invariant)
        self.payments: PaymentRepository = PgPayments(self)
        self.ledger: Ledger = PgLedger(self)
        self.events = PgOutbox(self, subscribers)
        self.outbox: Outbox = self.events
        self.accounts: Accounts = PgAccounts(self)

    async def record_transfer(self, payment: Payment, txn_id: str, *, at: datetime) -> None:
        self.held.insert(TRANSFER, [transfer_row(payment, txn_id, at)])

    async def record_exchanges(
        self, payment_id: str, channel: str, exchanges: Sequence[Exchange], *, at: datetime
    ) -> None:
        if exchanges:
            self.held.insert(EXCHANGE, exchange_rows(payment_id, channel, exchanges, at))

    async def add_deferred(
        self, payment_id: str, deferred: Sequence[DeferredPostings], *, at: datetime
    ) -> None:
        if deferred:
            self.held.insert(DEFERRED, deferred_rows(payment_id, deferred, at))

    async def write_flow(self, records: Sequence[FlowRecord]) -> None:
        if records:
            self.held.insert(FLOW, flow_rows(records))

    async def in_transaction(self) -> asyncpg.Connection:
        """The connection, in this work's explicit transaction, with every held write sent."""
        self._still_usable()
        if not self.begun:
            await self.conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            self.begun = True
        await self.send_held()
        return self.conn

    async def send_held(self) -> None:
        held, self.held = self.held, Statement()
        if not held.ctes:
            return
        try:
            if self.begun or self.batches is None or held.updates:
                await self.conn.fetchval(held.sql(), *held.args)
            else:  # its own transaction: it may share a commit with others (pg_batches.py)
                await self.batches.send(self.conn, held)
        except asyncpg.RaiseError as exc:
            refusal = held.refusal_of(exc)
            if refusal is None:
                raise
            self.refused = True
            await self.abandon()  # an explicit transaction is aborted: end it before reading why
            raise await refusal() from None

    async def finish(self) -> None:
        """Send what is held and commit: with the statement itself when there is no transaction."""
        self._still_usable()
        await self.send_held()
        if self.begun:
            await self.conn.execute("COMMIT")
            self.begun = False

    def _still_usable(self) -> None:
        if self.refused:
            raise RuntimeError("a ledger work went on after its transaction was refused and rolled back")

    async def abandon(self) -> None:
        if self.begun:
            self.begun = False
            if self.conn.is_in_transaction():
                await self.conn.execute("ROLLBACK")


class PgPayments:
    def __init__(self, work: PgLedgerWork) -> None:
        self.work = work

    async def _held_for(self, payment_id: str) -> Statement:
        if payment_id in self.work.held.payment_ids:  # its earlier write first: same row
            await self.work.in_transaction()
        held = self.work.held
        held.payment_ids.add(payment_id)
        return held

    async def add(self, payment: Payment, **schedule: Any) -> None:
        held = await self._held_for(payment.id)
        inserted = held.insert(
            PAYMENT, [new_payment_row(payment, schedule)], " ON CONFLICT DO NOTHING RETURNING id"
        )

        async def repeated() -> Exception:
            return DuplicateRequest(payment.out_request_no)

        held.check(DUPLICATE, f"NOT EXISTS (SELECT 1 FROM {inserted})", repeated)

    async def save(self, payment: Payment, *, expected_status: str, **schedule: Any) -> None:
        held = await self._held_for(payment.id)
        values = payment_changes(payment, schedule)
        held.updates = True
        name = held.name("upd")
        sets = ", ".join(PAYMENT.assignment(n, held.arg(PAYMENT.value(n, v))) for n, v in values.items())
        held.ctes.append(
            f"{name} AS (UPDATE payments SET {sets} WHERE id = {held.arg(payment.id)}::varchar "
            f"AND status = {held.arg(expected_status)}::varchar RETURNING id)"
        )

        async def changed() -> Exception:
            return ConcurrentUpdate(payment.id)

        held.check(CHANGED, f"NOT EXISTS (SELECT 1 FROM {name})", changed)

    async def _one(self, where: str, *args: Any) -> Payment | None:
        conn = await self.work.in_transaction()
        record = await conn.fetchrow(f"SELECT {PAYMENT.columns} FROM payments WHERE {where}", *args)
        return payment_from_mapping(PAYMENT.mapping(record)) if record else None

    async def get(self, payment_id: str) -> Payment | None:
        return await self._one("id = $1", payment_id)

    async def get_for_update(self, payment_id: str) -> Payment | None:
        return await self._one("id = $1 FOR UPDATE", payment_id)

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        return await self._one("app_id = $1 AND out_request_no = $2", app_id, out_request_no)


class PgLedger:
    """The same rules as the SQLAlchemy ledger's statement (gateway/storage/pg_postings.py):
    row locks in id order, conditional balance updates, entries with their balance after."""

    def __init__(self, work: PgLedgerWork) -> None:
        self.work = work

    async def post(self, subject_id: str, postings: Sequence[Posting], *, at: datetime) -> str:
        check_balanced(postings)
        if self.work.held.posts:  # two postings in one statement could update a row twice
            await self.work.in_transaction()
        held = self.work.held
        held.posts += 1
        txn_id = new_id("txn")
        net, currency_of = net_changes(postings)
        k, ids = hold_posting(held, txn_id, subject_id, postings, net, currency_of, at)

        async def refused() -> Exception:
            return await self._why_refused(ids, currency_of, net)

        held.check(LEDGER, f"(SELECT count(*) FROM mov{k}) <> {held.arg(len(ids))}::bigint", refused)
        return txn_id

    async def _why_refused(
        self, ids: list[str], currency_of: dict[str, str], net: dict[tuple[str, SubAccount], int]
    ) -> Exception:
        """Which account refused its change (read after the statement was rolled back): one
        missing or of another currency, else the first one the postings take money from."""
        rows = await self.work.conn.fetch(
            "SELECT id, currency, available_minor, pending_minor FROM accounts WHERE id = ANY($1::varchar[])",
            ids,
        )
        found = {r["id"]: r["currency"] for r in rows}
        for account_id in ids:
            if found.get(account_id) != currency_of[account_id]:
                return posting_refusal(account_id, found.get(account_id), currency_of[account_id])
        for r in rows:
            balances = {SubAccount.AVAILABLE: r["available_minor"], SubAccount.PENDING: r["pending_minor"]}
            changes = {sub: net.get((r["id"], sub), 0) for sub in SubAccount}
            if beyond_limit(balances, changes, r["currency"]):
                return posting_refusal(r["id"], r["currency"], r["currency"], beyond_limit=True)
        paying = [i for i in ids if any(net.get((i, sub), 0) < 0 for sub in SubAccount)]
        first = (paying or ids)[0]
        return posting_refusal(first, found[first], currency_of[first])


class PgOutbox:
    def __init__(self, work: PgLedgerWork, subscribers: frozenset[str] | None) -> None:
        self.work = work
        self.subscribers = subscribers  # as SqlOutbox's
        self.queued = 0  # events this work queued: its commit wakes the deliverer when any

    async def enqueue(
        self, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], *, at: datetime
    ) -> str | None:
        if self.subscribers is not None and app_id not in self.subscribers:
            return None
        event_id = new_id("evt")
        self.queued += 1
        self.work.held.insert(OUTBOX, [outbox_row(event_id, app_id, event_type, subject_id, payload, at)])
        return event_id


class PgAccounts:
    def __init__(self, work: PgLedgerWork) -> None:
        self.work = work

    async def visible(self, app_id: str, ids: Sequence[str]) -> dict[str, AccountView]:
        unique = list(dict.fromkeys(ids))
        if not unique:
            return {}
        conn = await self.work.in_transaction()
        records = await conn.fetch(
            f"SELECT {ACCOUNT_VIEW.columns} FROM accounts WHERE app_id = $1 AND id = ANY($2::varchar[])",
            app_id,
            unique,
        )
        return {r["id"]: account_from_mapping(ACCOUNT_VIEW.mapping(r)) for r in records}

    async def open(self, account: NewAccount, *, at: datetime) -> None:
        await self._insert(account, at, "")

    async def open_if_missing(self, account: NewAccount, *, at: datetime) -> None:
        await self._insert(account, at, " ON CONFLICT DO NOTHING")

    async def _insert(self, account: NewAccount, at: datetime, suffix: str) -> None:
        # at once, in the transaction: a posting held after it must find the account
        conn = await self.work.in_transaction()
        await conn.execute(ACCOUNT.json_insert("$1", suffix), ACCOUNT.json_rows([account_row(account, at)]))


class PgTransactions:
    """`transact(work)` on PostgreSQL: `work` over a `PgLedgerWork` on a pool connection of
    `engine`, held to the rule every `Transactions` holds (it may wait only on its work). Once a
    work that queued outbox events has committed, `events_committed` is set (it wakes the
    deliverer)."""

    def __init__(
        self,
        engine: AsyncEngine,
        subscribers: frozenset[str] | None = None,
        events_committed: asyncio.Event | None = None,
    ) -> None:
        self.engine = engine
        self.subscribers = subscribers
        self.events_committed = events_committed
        self.batches = StatementBatches()

    async def __call__(self, work: Callable[[LedgerWork], Awaitable[T]]) -> T:
        async with pooled_driver_connection(self.engine) as (conn, pooled):
            uow = PgLedgerWork(conn, self.subscribers, self.batches)
            try:
                result = await only_its_own_waits(work, uow)
                await uow.finish()
            except BaseException:
                await _end(uow, pooled)
                raise
        if self.events_committed is not None and uow.events.queued:
            self.events_committed.set()
        return result


@contextlib.asynccontextmanager
async def pooled_driver_connection(
    engine: AsyncEngine,
) -> AsyncIterator[tuple[asyncpg.Connection, PoolProxiedConnection]]:
    """The asyncpg connection under a connection of `engine`'s pool, given back at the end.

    Straight from the pool, not through an AsyncConnection (whose start, raw-connection and close
    steps are each a greenlet switch, and its close a task): SQLAlchemy begins nothing on it, so
    the pool's reset on return has nothing to roll back; whoever uses it ends what it begins."""
    pooled = await greenlet_spawn(engine.sync_engine.raw_connection)
    try:
        conn = pooled.driver_connection
        assert isinstance(conn, asyncpg.Connection)
        yield conn, pooled
    finally:  # an invalidated connection too: its pool slot comes back, to be connected anew
        await greenlet_spawn(pooled.close)


async def _end(uow: PgLedgerWork, pooled: PoolProxiedConnection) -> None:
    """Roll back an unfinished transaction; a connection that cannot is not reused."""
    try:
        await uow.abandon()
    except BaseException:  # the caller re-raises what ended the work; this one only retires the connection
        await greenlet_spawn(pooled.invalidate)

"""The SQL unit of work: one connection, one transaction, the repositories bound to it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import InsufficientFunds, NotFound
from core.flowlog import FlowRecord
from core.ids import new_id
from core.ledger import AccountKind, AccountStatus, AccountView, FlowKind, Posting, SubAccount
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from gateway.storage import tables as t
from gateway.storage.sqlite_writer import SqliteWriter
from ports.channels import DeferredPostings, Exchange
from ports.storage import ConcurrentUpdate, DuplicateRequest

# longer than any channel call may take (calls time out well before)
CREATED_GRACE = timedelta(minutes=2)


def payment_from_mapping(m: Mapping[Any, Any]) -> Payment:
    return Payment(
        id=m["id"],
        app_id=m["app_id"],
        out_request_no=m["out_request_no"],
        request_hash=m["request_hash"],
        pay_method=m["pay_method"],
        channel=m["channel"],
        amount=Money(m["amount_minor"], m["currency"]),
        payer_account=m["payer_account"],
        payee_account=m["payee_account"],
        status=PaymentStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        business_type=m["business_type"],
        memo=m["memo"],
        channel_ref=m["channel_ref"],
        failure_code=m["failure_code"],
        failure_message=m["failure_message"],
        details=dict(m["details"] or {}),
    )


def payment_values(p: Payment) -> dict[str, Any]:
    return {
        "id": p.id,
        "app_id": p.app_id,
        "out_request_no": p.out_request_no,
        "request_hash": p.request_hash,
        "pay_method": p.pay_method,
        "channel": p.channel,
        "amount_minor": p.amount.minor,
        "currency": p.amount.currency,
        "payer_account": p.payer_account,
        "payee_account": p.payee_account,
        "business_type": p.business_type,
        "memo": p.memo,
        "status": p.status.value,
        "channel_ref": p.channel_ref,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "details": p.details,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def row_to_account(row: sa.Row[Any]) -> AccountView:
    return account_from_mapping(row._mapping)


def account_from_mapping(m: Mapping[Any, Any]) -> AccountView:
    return AccountView(
        id=m["id"],
        owner=m["owner"],
        kind=AccountKind(m["kind"]),
        currency=m["currency"],
        status=AccountStatus(m["status"]),
        allow_overdraft=m["allow_overdraft"],
    )


class SqlPayments:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, payment: Payment, **schedule: Any) -> None:
        values = payment_values(payment)
        if payment.status is PaymentStatus.CREATED:
            # If the process dies between saving and the channel's answer, the poller finds the
            # payment here and asks the channel, instead of it staying `created` forever.
            values["next_query_at"] = payment.created_at + CREATED_GRACE
        values.update(schedule)
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(t.payments.insert().values(**values))
        except IntegrityError as exc:
            raise DuplicateRequest(payment.out_request_no) from exc

    async def get(self, payment_id: str) -> Payment | None:
        row = (await self.conn.execute(sa.select(t.payments).where(t.payments.c.id == payment_id))).first()
        return payment_from_mapping(row._mapping) if row else None

    async def get_for_update(self, payment_id: str) -> Payment | None:
        stmt = sa.select(t.payments).where(t.payments.c.id == payment_id)
        if self.conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return payment_from_mapping(row._mapping) if row else None

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        row = (
            await self.conn.execute(
                sa.select(t.payments).where(
                    t.payments.c.app_id == app_id, t.payments.c.out_request_no == out_request_no
                )
            )
        ).first()
        return payment_from_mapping(row._mapping) if row else None

    async def save(self, payment: Payment, *, expected_status: str, **schedule: Any) -> None:
        values = payment_values(payment)
        for key in ("id", "app_id", "out_request_no", "request_hash", "created_at"):
            values.pop(key)
        values.update(schedule)
        result = await self.conn.execute(
            t.payments.update()
            .where(t.payments.c.id == payment.id, t.payments.c.status == expected_status)
            .values(**values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(payment.id)


class SqlLedger:
    """Applies balanced postings with conditional updates: a balance never dips below zero
    unless the account allows an overdraft, even under concurrent writers."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def post(self, subject_id: str, postings: Sequence[Posting], *, at: datetime) -> str:
        from core.ledger import check_balanced

        check_balanced(postings)
        txn_id = new_id("txn")
        await self.conn.execute(
            t.ledger_txns.insert().values(id=txn_id, subject_id=subject_id, created_at=at)
        )
        net: dict[tuple[str, SubAccount], int] = defaultdict(int)
        currency_of: dict[str, str] = {}
        for p in postings:
            net[(p.account_id, p.sub_account)] += p.amount.minor
            currency_of[p.account_id] = p.amount.currency
        balance_after: dict[tuple[str, SubAccount], int] = {}
        # Sorted order: concurrent transactions lock accounts in the same order (no deadlock).
        for (account_id, sub), delta in sorted(net.items()):
            column = (
                t.accounts.c.available_minor if sub is SubAccount.AVAILABLE else t.accounts.c.pending_minor
            )
            stmt = (
                t.accounts.update()
                .where(t.accounts.c.id == account_id, t.accounts.c.currency == currency_of[account_id])
                .values({column: column + delta})
                .returning(column)
            )
            if delta < 0:
                stmt = stmt.where(sa.or_(t.accounts.c.allow_overdraft, column + delta >= 0))
            row = (await self.conn.execute(stmt)).first()
            if row is None:
                exists = (
                    await self.conn.execute(
                        sa.select(t.accounts.c.currency).where(t.accounts.c.id == account_id)
                    )
                ).first()
                if exists is None:
                    raise NotFound(f"account {account_id} does not exist", code="ACCOUNT_NOT_FOUND")
                if exists[0] != currency_of[account_id]:
                    raise NotFound(
                        f"account {account_id} holds {exists[0]}, not {currency_of[account_id]}",
                        code="ACCOUNT_CURRENCY_MISMATCH",
                    )
                raise InsufficientFunds(
                    f"account {account_id} has insufficient funds for this payment",
                    field="payer_account",
                )
            balance_after[(account_id, sub)] = row[0] - delta
        entries = entry_rows(txn_id, postings, balance_after, at)
        await self.conn.execute(t.ledger_entries.insert(), entries)
        return txn_id


class SqlOutbox:
    """`subscribers`: the apps that take webhooks (a notify_url); nothing is queued for the
    others, as nothing could ever be delivered to them. None: every app."""

    def __init__(self, conn: AsyncConnection, subscribers: frozenset[str] | None = None) -> None:
        self.conn = conn
        self.subscribers = subscribers

    async def enqueue(
        self,
        app_id: str,
        event_type: str,
        subject_id: str,
        payload: dict[str, Any],
        *,
        at: datetime,
    ) -> str | None:
        if self.subscribers is not None and app_id not in self.subscribers:
            return None
        event_id = new_id("evt")
        await self.conn.execute(
            t.outbox.insert().values(**outbox_row(event_id, app_id, event_type, subject_id, payload, at))
        )
        return event_id


class SqlAccounts:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def visible(self, app_id: str, ids: Sequence[str]) -> dict[str, AccountView]:
        if not ids:
            return {}
        rows = await self.conn.execute(
            sa.select(t.accounts).where(t.accounts.c.id.in_(set(ids)), t.accounts.c.app_id == app_id)
        )
        return {row.id: row_to_account(row) for row in rows}


def postings_to_json(postings: Sequence[Posting]) -> list[dict[str, Any]]:
    return [
        {
            "account_id": p.account_id,
            "amount_minor": p.amount.minor,
            "currency": p.amount.currency,
            "kind": p.kind.value,
            "sub_account": p.sub_account.value,
            "memo": p.memo,
        }
        for p in postings
    ]


def postings_from_json(items: Sequence[dict[str, Any]]) -> tuple[Posting, ...]:
    return tuple(
        Posting(
            i["account_id"],
            Money(i["amount_minor"], i["currency"]),
            FlowKind(i["kind"]),
            SubAccount(i["sub_account"]),
            i.get("memo", ""),
        )
        for i in items
    )


class SqlUnitOfWork:
    """`async with uow:` opens a transaction; `commit()` makes it durable, leaving rolls back.

    On SQLite, a writer takes its turn from the process's SQLite writer (gateway/storage/
    sqlite_writer.py) so writers never fight over the database lock; PostgreSQL relies on row
    locks and conditional updates.
    """

    def __init__(
        self, engine: AsyncEngine, writer: SqliteWriter | None, subscribers: frozenset[str] | None = None
    ) -> None:
        self.engine = engine
        self._writer = writer
        self._subscribers = subscribers
        self._turn: AbstractAsyncContextManager[None] | None = None
        self._conn: AsyncConnection | None = None
        self.committed = False

    @property
    def conn(self) -> AsyncConnection:
        assert self._conn is not None, "unit of work used outside `async with`"
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
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
        self.payments = SqlPayments(self._conn)
        self.ledger = SqlLedger(self._conn)
        self.outbox = SqlOutbox(self._conn, self._subscribers)
        self.accounts = SqlAccounts(self._conn)
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
            await self._release()

    async def _release(self) -> None:
        turn, self._turn = self._turn, None
        if turn is not None:
            await turn.__aexit__(None, None, None)

    async def commit(self) -> None:
        await self.conn.commit()
        self.committed = True

    async def rollback(self) -> None:
        await self.conn.rollback()

    async def record_transfer(self, payment: Payment, txn_id: str, *, at: datetime) -> None:
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
        if records:
            await self.conn.execute(t.flow_log.insert(), flow_rows(records))


def entry_rows(
    txn_id: str, postings: Sequence[Posting], balance_before: dict[tuple[str, SubAccount], int], at: datetime
) -> list[dict[str, Any]]:
    """The ledger entries of a transaction, each with its account's balance after it."""
    running = dict(balance_before)
    rows = []
    for p in postings:
        key = (p.account_id, p.sub_account)
        running[key] += p.amount.minor
        rows.append(
            {
                "txn_id": txn_id,
                "account_id": p.account_id,
                "sub_account": p.sub_account.value,
                "amount_minor": p.amount.minor,
                "currency": p.amount.currency,
                "kind": p.kind.value,
                "balance_after_minor": running[key],
                "memo": p.memo[:256],
                "created_at": at,
            }
        )
    return rows


def outbox_row(
    event_id: str, app_id: str, event_type: str, subject_id: str, payload: dict[str, Any], at: datetime
) -> dict[str, Any]:
    return {
        "id": event_id,
        "app_id": app_id,
        "event_type": event_type,
        "subject_id": subject_id,
        "payload": {"event_id": event_id, "event_type": event_type, **payload},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


def transfer_row(payment: Payment, txn_id: str, at: datetime) -> dict[str, Any]:
    return {
        "payment_id": payment.id,
        "ledger_txn_id": txn_id,
        "payer_account": payment.payer_account,
        "payee_account": payment.payee_account,
        "amount_minor": payment.amount.minor,
        "currency": payment.amount.currency,
        "created_at": at,
    }


def exchange_rows(
    payment_id: str, channel: str, exchanges: Sequence[Exchange], at: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "subject_id": payment_id,
            "channel": channel,
            "operation": e.operation,
            "request": e.request,
            "response": e.response,
            "error": e.error[:512] if e.error else None,
            "at": at,
        }
        for e in exchanges
    ]


def deferred_rows(
    payment_id: str, deferred: Sequence[DeferredPostings], at: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "payment_id": payment_id,
            "seq": d.order,
            "kind": d.kind,
            "postings": postings_to_json(d.postings),
            "status": "pending",
            "attempts": 0,
            "due_at": at,
        }
        for d in deferred
    ]


def flow_rows(records: Sequence[FlowRecord]) -> list[dict[str, Any]]:
    return [
        {
            "subject_id": r.subject_id,
            "node": r.node.value,
            "outcome": r.outcome.value,
            "message": r.message[:512],
            "detail": r.detail,
            "actor": r.actor,
            "at": r.at,
        }
        for r in records
    ]

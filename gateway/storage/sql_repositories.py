"""The storage ports' repositories over a SQLAlchemy connection (all engines)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.ids import new_id
from core.ledger import AccountView, NewAccount, Posting, SubAccount, balance_limit
from core.payments.model import Payment
from gateway.storage import tables as t
from gateway.storage.pg_postings import hold_posting
from gateway.storage.pg_statement import Statement
from gateway.storage.rows import (
    account_row,
    entry_rows,
    net_changes,
    new_payment_row,
    outbox_row,
    payment_changes,
    payment_from_mapping,
    row_to_account,
    stored_refusal,
)
from gateway.storage.write_behind import WriteBehind, with_defaults
from ports.storage import ConcurrentUpdate, DuplicateRequest


class SqlPayments:
    """`behind`: the unit of work's write-behind inserts (PostgreSQL), written by the next
    insert or update of a payment."""

    def __init__(self, conn: AsyncConnection, behind: WriteBehind | None = None) -> None:
        self.conn = conn
        self.behind = behind

    async def add(self, payment: Payment, **schedule: Any) -> None:
        values = new_payment_row(payment, schedule)
        if self.conn.dialect.name == "postgresql":
            # one round trip: a repeat inserts nothing (no error, so no savepoint is needed to
            # keep the transaction usable) and returns no row
            stmt = postgresql.insert(t.payments).values(**with_defaults(t.payments, values))
            stmt = stmt.on_conflict_do_nothing()
            if self.behind is not None:
                stmt = self.behind.attach(stmt)
            if (await self.conn.execute(stmt.returning(t.payments.c.id))).first() is None:
                raise DuplicateRequest(payment.out_request_no)
            return
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
        values = payment_changes(payment, schedule)
        stmt = (
            t.payments.update()
            .where(t.payments.c.id == payment.id, t.payments.c.status == expected_status)
            .values(**values)
        )
        if self.behind is not None:
            stmt = self.behind.attach(stmt)
        result = await self.conn.execute(stmt)
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
        net, currency_of = net_changes(postings)
        if self.conn.dialect.name == "postgresql":
            held = Statement()
            k, ids = hold_posting(held, txn_id, subject_id, postings, net, currency_of, at)
            answer = await self.conn.exec_driver_sql(held.sql(f"SELECT id FROM mov{k}"), tuple(held.args))
            moved = {row.id for row in answer}
            refused = [i for i in ids if i not in moved]
            if refused:
                changes = {sub: net.get((refused[0], sub), 0) for sub in SubAccount}
                await self._refuse(refused[0], currency_of[refused[0]], changes)
            return txn_id
        balance_before = await self._apply_one_by_one(txn_id, subject_id, net, currency_of, at)
        entries = entry_rows(txn_id, postings, balance_before, at)
        await self.conn.execute(t.ledger_entries.insert(), entries)
        return txn_id

    async def _apply_one_by_one(
        self,
        txn_id: str,
        subject_id: str,
        net: dict[tuple[str, SubAccount], int],
        currency_of: dict[str, str],
        at: datetime,
    ) -> dict[tuple[str, SubAccount], int]:
        await self.conn.execute(
            t.ledger_txns.insert().values(id=txn_id, subject_id=subject_id, created_at=at)
        )
        balance_before: dict[tuple[str, SubAccount], int] = {}
        # Sorted order: concurrent transactions lock accounts in the same order (no deadlock).
        for (account_id, sub), delta in sorted(net.items()):
            column = (
                t.accounts.c.available_minor if sub is SubAccount.AVAILABLE else t.accounts.c.pending_minor
            )
            limit = balance_limit(currency_of[account_id])
            stmt = (
                t.accounts.update()
                .where(
                    t.accounts.c.id == account_id,
                    t.accounts.c.currency == currency_of[account_id],
                    (column + delta).between(-limit, limit),  # both within the limit: no overflow
                )
                .values({column: column + delta})
                .returning(column)
            )
            if delta < 0:
                stmt = stmt.where(sa.or_(t.accounts.c.allow_overdraft, column + delta >= 0))
            row = (await self.conn.execute(stmt)).first()
            if row is None:
                await self._refuse(account_id, currency_of[account_id], {sub: delta})
            balance_before[(account_id, sub)] = row[0] - delta
        return balance_before

    async def _refuse(self, account_id: str, currency: str, changes: dict[SubAccount, int]) -> NoReturn:
        """Raises why `account_id` could not take its `changes`: missing, another currency,
        beyond the balance limit, or (the remaining reason) not enough funds."""
        a = t.accounts.c
        found = (
            await self.conn.execute(
                sa.select(a.currency, a.available_minor, a.pending_minor).where(a.id == account_id)
            )
        ).first()
        raise stored_refusal(account_id, found, currency, changes)


class SqlOutbox:
    """`subscribers`: the apps that take webhooks (a notify_url); nothing is queued for the
    others, as nothing could ever be delivered to them. None: every app. `queued`: how many
    events this transaction queued (its commit wakes the deliverer when any)."""

    def __init__(
        self,
        conn: AsyncConnection,
        subscribers: frozenset[str] | None = None,
        behind: WriteBehind | None = None,
    ) -> None:
        self.conn = conn
        self.subscribers = subscribers
        self.behind = behind
        self.queued = 0

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
        row = outbox_row(event_id, app_id, event_type, subject_id, payload, at)
        if self.behind is not None:  # nothing reads it back before the commit
            self.behind.insert(t.outbox, row)
        else:
            await self.conn.execute(t.outbox.insert().values(**row))
        self.queued += 1
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

    async def open(self, account: NewAccount, *, at: datetime) -> None:
        await self.conn.execute(t.accounts.insert().values(**account_row(account, at)))

    async def open_if_missing(self, account: NewAccount, *, at: datetime) -> None:
        # one statement, no read-then-insert: concurrent first uses cannot both insert
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(t.accounts).values(**account_row(account, at)).on_conflict_do_nothing()
        await self.conn.execute(stmt)

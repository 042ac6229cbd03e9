"""The ledger check's queries: the findings that core/ledger_check.py judges."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.ledger import SubAccount
from core.ledger_check import CurrencyTotal, LedgerFindings
from gateway.storage import tables as t

# ids listed per breached rule (the report says that there are breaches, not all of them)
LISTED = 100


async def ledger_findings(conn: AsyncConnection) -> LedgerFindings:
    return LedgerFindings(
        currency_totals=await _currency_totals(conn),
        transactions_checked=(
            await conn.execute(sa.select(sa.func.count()).select_from(t.ledger_txns))
        ).scalar_one(),
        unbalanced_transactions=await _ids(conn, _unbalanced_transactions()),
        accounts_not_matching_flows=await _ids(conn, _accounts_not_matching_flows()),
        accounts_below_zero=await _ids(conn, _accounts_below_zero()),
    )


async def _currency_totals(conn: AsyncConnection) -> list[CurrencyTotal]:
    a = t.accounts
    rows = await conn.execute(
        sa.select(a.c.currency, sa.func.sum(a.c.available_minor + a.c.pending_minor), sa.func.count())
        .group_by(a.c.currency)
        .order_by(a.c.currency)
    )
    return [CurrencyTotal(currency, int(total or 0), count) for currency, total, count in rows]


async def _ids(conn: AsyncConnection, stmt: sa.Select[Any]) -> list[str]:
    return [row[0] for row in await conn.execute(stmt.limit(LISTED))]


def _unbalanced_transactions() -> sa.Select[Any]:
    e = t.ledger_entries
    return sa.select(e.c.txn_id).group_by(e.c.txn_id, e.c.currency).having(sa.func.sum(e.c.amount_minor) != 0)


def _accounts_not_matching_flows() -> sa.Select[Any]:
    e, a = t.ledger_entries, t.accounts
    sums = (
        sa.select(e.c.account_id, e.c.sub_account, sa.func.sum(e.c.amount_minor).label("total"))
        .group_by(e.c.account_id, e.c.sub_account)
        .subquery()
    )

    def flows(sub: SubAccount) -> sa.ColumnElement[Any]:
        total = sa.select(sums.c.total).where(sums.c.account_id == a.c.id, sums.c.sub_account == sub.value)
        return sa.func.coalesce(total.scalar_subquery(), 0)

    return sa.select(a.c.id).where(
        sa.or_(
            a.c.available_minor != flows(SubAccount.AVAILABLE),
            a.c.pending_minor != flows(SubAccount.PENDING),
        )
    )


def _accounts_below_zero() -> sa.Select[Any]:
    a = t.accounts
    return sa.select(a.c.id).where(
        ~a.c.allow_overdraft, sa.or_(a.c.available_minor < 0, a.c.pending_minor < 0)
    )

"""A ledger transaction's balance updates on PostgreSQL in one statement (one round trip)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.ledger import SubAccount
from gateway.storage.tables import UTCDateTime

# (account id, sub-account) -> net change in minor units
NetChanges = Mapping[tuple[str, SubAccount], int]


def _statement(accounts: int) -> sa.TextClause:
    """The ledger transaction's row, then every account's net change, as one statement.

    Lock order: `locked` takes the accounts' row locks in id order before any of them is
    updated (its rows come out of the sort one at a time, each locked as it comes, and the
    UPDATE only reaches a row through them), so two transactions over the same accounts wait for
    each other instead of deadlocking. A change that would take a balance below zero without
    an overdraft, or an account of another currency, matches no row: that account is missing
    from RETURNING, and the caller raises (rolling the whole transaction back).
    """
    values = ", ".join(
        f"(CAST(:id{i} AS VARCHAR), CAST(:cur{i} AS VARCHAR), CAST(:avail{i} AS BIGINT), "
        f"CAST(:pend{i} AS BIGINT))"
        for i in range(accounts)
    )
    return sa.text(
        "WITH txn AS (INSERT INTO ledger_txns (id, subject_id, created_at) "
        "VALUES (:txn_id, :subject_id, CAST(:at AS TIMESTAMPTZ))), "
        f"changes (id, currency, avail, pend) AS (VALUES {values}), "
        "locked AS MATERIALIZED (SELECT a.id FROM accounts a "
        "WHERE a.id IN (SELECT id FROM changes) ORDER BY a.id FOR UPDATE) "
        "UPDATE accounts a SET available_minor = a.available_minor + c.avail, "
        "pending_minor = a.pending_minor + c.pend "
        "FROM changes c JOIN locked l ON l.id = c.id "
        "WHERE a.id = c.id AND a.currency = c.currency AND (a.allow_overdraft OR ("
        "(c.avail >= 0 OR a.available_minor + c.avail >= 0) AND "
        "(c.pend >= 0 OR a.pending_minor + c.pend >= 0))) "
        "RETURNING a.id, a.available_minor, a.pending_minor"
    ).bindparams(sa.bindparam("at", type_=UTCDateTime()))


async def apply_postings(
    conn: AsyncConnection,
    txn_id: str,
    subject_id: str,
    net: NetChanges,
    currency_of: Mapping[str, str],
    at: datetime,
) -> tuple[dict[tuple[str, SubAccount], int], list[str]]:
    """Inserts the ledger transaction and applies `net`. Returns each changed (account,
    sub-account)'s balance before the change, and the accounts that could not be changed
    (sorted; any means the transaction must be rolled back)."""
    ids = sorted(currency_of)
    params: dict[str, object] = {"txn_id": txn_id, "subject_id": subject_id, "at": at}
    for i, account_id in enumerate(ids):
        params[f"id{i}"] = account_id
        params[f"cur{i}"] = currency_of[account_id]
        params[f"avail{i}"] = net.get((account_id, SubAccount.AVAILABLE), 0)
        params[f"pend{i}"] = net.get((account_id, SubAccount.PENDING), 0)
    rows = (await conn.execute(_statement(len(ids)), params)).all()
    after = {
        row.id: {SubAccount.AVAILABLE: row.available_minor, SubAccount.PENDING: row.pending_minor}
        for row in rows
    }
    before = {
        (account_id, sub): after[account_id][sub] - delta
        for (account_id, sub), delta in net.items()
        if account_id in after
    }
    return before, [i for i in ids if i not in after]

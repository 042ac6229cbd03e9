"""A ledger transaction on PostgreSQL in one statement (one round trip): its row, every
account's balance change and every entry with the balance after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.ledger import Posting, SubAccount
from gateway.storage.tables import UTCDateTime

# (account id, sub-account) -> net change in minor units
NetChanges = Mapping[tuple[str, SubAccount], int]


def _statement(accounts: int, legs: int) -> sa.TextClause:
    """Lock order: `locked` takes the accounts' row locks in id order before any of them is
    updated (its rows come out of the sort one at a time, each locked as it comes, and the
    UPDATE reaches a row only through them), so two transactions over the same accounts wait
    for each other instead of deadlocking.

    A change that would take a balance below zero without an overdraft, or an account of
    another currency, matches no row: that account is missing from the answer, and the caller
    raises, which rolls the whole transaction back (the entries inserted for the others too).
    Each entry's balance after it: the account's balance before the transaction (after it,
    less the net change) plus the running sum of its legs, in posting order.
    """
    changes = ", ".join(
        f"(CAST(:id{i} AS VARCHAR), CAST(:cur{i} AS VARCHAR), CAST(:avail{i} AS BIGINT), "
        f"CAST(:pend{i} AS BIGINT))"
        for i in range(accounts)
    )
    postings = ", ".join(
        f"({j}, CAST(:leg_account{j} AS VARCHAR), CAST(:leg_sub{j} AS VARCHAR), "
        f"CAST(:leg_amount{j} AS BIGINT), CAST(:leg_currency{j} AS VARCHAR), "
        f"CAST(:leg_kind{j} AS VARCHAR), CAST(:leg_memo{j} AS VARCHAR))"
        for j in range(legs)
    )
    available = SubAccount.AVAILABLE.value
    return sa.text(
        "WITH txn AS (INSERT INTO ledger_txns (id, subject_id, created_at) "
        "VALUES (:txn_id, :subject_id, CAST(:at AS TIMESTAMPTZ))), "
        f"changes (id, currency, avail, pend) AS (VALUES {changes}), "
        "locked AS MATERIALIZED (SELECT a.id FROM accounts a "
        "WHERE a.id IN (SELECT id FROM changes) ORDER BY a.id FOR UPDATE), "
        "moved AS (UPDATE accounts a SET available_minor = a.available_minor + c.avail, "
        "pending_minor = a.pending_minor + c.pend "
        "FROM changes c JOIN locked l ON l.id = c.id "
        "WHERE a.id = c.id AND a.currency = c.currency AND (a.allow_overdraft OR ("
        "(c.avail >= 0 OR a.available_minor + c.avail >= 0) AND "
        "(c.pend >= 0 OR a.pending_minor + c.pend >= 0))) "
        "RETURNING a.id, a.available_minor, a.pending_minor), "
        f"legs (seq, account_id, sub, amount, currency, kind, memo) AS (VALUES {postings}), "
        "entries AS (INSERT INTO ledger_entries (txn_id, account_id, sub_account, amount_minor, "
        "currency, kind, balance_after_minor, memo, created_at) "
        "SELECT :txn_id, l.account_id, l.sub, l.amount, l.currency, l.kind, CAST("
        f"CASE WHEN l.sub = '{available}' THEN m.available_minor - c.avail "
        "ELSE m.pending_minor - c.pend END "
        "+ SUM(l.amount) OVER (PARTITION BY l.account_id, l.sub ORDER BY l.seq) AS BIGINT), "
        "l.memo, CAST(:at AS TIMESTAMPTZ) "
        "FROM legs l JOIN moved m ON m.id = l.account_id JOIN changes c ON c.id = l.account_id "
        "ORDER BY l.seq) "
        "SELECT id FROM moved"
    ).bindparams(sa.bindparam("at", type_=UTCDateTime()))


async def post_transaction(
    conn: AsyncConnection,
    txn_id: str,
    subject_id: str,
    postings: Sequence[Posting],
    net: NetChanges,
    currency_of: Mapping[str, str],
    at: datetime,
) -> list[str]:
    """Writes the ledger transaction `txn_id` of `postings` (whose net changes are `net`).
    Returns the accounts that could not take their change, sorted: any means the transaction
    must be rolled back."""
    ids = sorted(currency_of)
    params: dict[str, object] = {"txn_id": txn_id, "subject_id": subject_id, "at": at}
    for i, account_id in enumerate(ids):
        params[f"id{i}"] = account_id
        params[f"cur{i}"] = currency_of[account_id]
        params[f"avail{i}"] = net.get((account_id, SubAccount.AVAILABLE), 0)
        params[f"pend{i}"] = net.get((account_id, SubAccount.PENDING), 0)
    for j, p in enumerate(postings):
        params[f"leg_account{j}"] = p.account_id
        params[f"leg_sub{j}"] = p.sub_account.value
        params[f"leg_amount{j}"] = p.amount.minor
        params[f"leg_currency{j}"] = p.amount.currency
        params[f"leg_kind{j}"] = p.kind.value
        params[f"leg_memo{j}"] = p.memo[:256]
    moved = {row.id for row in await conn.execute(_statement(len(ids), len(postings)), params)}
    return [i for i in ids if i not in moved]

"""A ledger transaction on PostgreSQL as CTEs of one statement (one round trip): its row, every
account's balance change and every entry with the balance after it.

Used by both PostgreSQL ledgers: the raw ledger work (gateway/storage/pg_ledger.py), which adds a
check that refuses the statement, and the SQLAlchemy unit of work's (sql_repositories.SqlLedger),
which reads which accounts moved.

Lock order: `lck` takes the accounts' row locks in id order before any of them is updated (its
rows come out of the sort one at a time, each locked as it comes, and the UPDATE reaches a row
only through them), so two transactions over the same accounts wait for each other instead of
deadlocking. `lck` also locks the accounts of its `locks` parameter (empty, except in the first
statement of a batch, which names every account of the batch: gateway/storage/pg_batches.py).

A change that would take a balance below zero without an overdraft or beyond its currency's limit
(core/ledger.py `balance_limit`: a balance and a change within it never overflow a bigint), or an
account of another currency, matches no row: that account is missing from `mov`. Each entry's
balance after it: the account's balance before the transaction (after it, less the net change)
plus the running sum of its legs, in posting order. Accounts and legs travel as one JSON array
each (of arrays: positional, so the text stays short), so the text is the same for any number of
them and the driver encodes two strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from core.ledger import Posting, SubAccount, balance_limit
from gateway.storage.pg_rows import TXN, json_text
from gateway.storage.pg_statement import Statement

# (account id, sub-account) -> net change in minor units
NetChanges = Mapping[tuple[str, SubAccount], int]


def hold_posting(
    held: Statement,
    txn_id: str,
    subject_id: str,
    postings: Sequence[Posting],
    net: NetChanges,
    currency_of: Mapping[str, str],
    at: datetime,
) -> tuple[int, list[str]]:
    """Adds the CTEs writing ledger transaction `txn_id` of `postings` (whose net changes are
    `net`) to `held`. Returns their suffix `k` (`mov{k}` answers one row per account that took
    its change) and the accounts, sorted: any of them missing from `mov{k}` means the whole
    transaction must not stay."""
    ids = sorted(currency_of)
    k = len(held.ctes)
    locks = held.arg([])  # more accounts to lock with these: see gateway/storage/pg_batches.py
    held.accounts, held.lock_at = ids, len(held.args) - 1
    txn, subject, when = held.arg(txn_id), held.arg(subject_id), held.arg(TXN.value("created_at", at))
    changes = held.arg(
        json_text(
            [
                [
                    i,
                    currency_of[i],
                    net.get((i, SubAccount.AVAILABLE), 0),
                    net.get((i, SubAccount.PENDING), 0),
                    balance_limit(currency_of[i]),
                ]
                for i in ids
            ]
        )
    )
    legs = held.arg(
        json_text(
            [
                [
                    seq,
                    p.account_id,
                    p.sub_account.value,
                    p.amount.minor,
                    p.amount.currency,
                    p.kind.value,
                    p.memo[:256],
                ]
                for seq, p in enumerate(postings)
            ]
        )
    )
    held.ctes += _ctes(k, txn, subject, when, changes, legs, locks)
    return k, ids


def _ctes(k: int, txn: str, subject: str, when: str, changes: str, legs: str, locks: str) -> list[str]:
    """The CTEs of `hold_posting`, over its parameters' placeholders."""
    available = SubAccount.AVAILABLE.value
    return [
        f"txn{k} AS (INSERT INTO ledger_txns (id, subject_id, created_at) "
        f"VALUES ({txn}::varchar, {subject}::varchar, {when}::timestamptz))",
        f"chg{k} AS (SELECT (c->>0)::varchar AS id, (c->>1)::varchar AS currency, (c->>2)::bigint AS avail, "
        f"(c->>3)::bigint AS pend, (c->>4)::bigint AS lim FROM jsonb_array_elements({changes}::jsonb) AS c)",
        f"lck{k} AS MATERIALIZED (SELECT a.id FROM accounts a "
        f"WHERE a.id = ANY(ARRAY(SELECT id FROM chg{k}) || {locks}::varchar[]) ORDER BY a.id FOR UPDATE)",
        f"mov{k} AS (UPDATE accounts a SET available_minor = a.available_minor + c.avail, "
        "pending_minor = a.pending_minor + c.pend "
        f"FROM chg{k} c JOIN lck{k} l ON l.id = c.id "
        "WHERE a.id = c.id AND a.currency = c.currency "
        "AND a.available_minor + c.avail BETWEEN -c.lim AND c.lim "
        "AND a.pending_minor + c.pend BETWEEN -c.lim AND c.lim AND (a.allow_overdraft OR ("
        "(c.avail >= 0 OR a.available_minor + c.avail >= 0) AND "
        "(c.pend >= 0 OR a.pending_minor + c.pend >= 0))) "
        "RETURNING a.id, a.available_minor, a.pending_minor)",
        f"leg{k} AS (SELECT (l->>0)::int AS seq, (l->>1)::varchar AS account_id, (l->>2)::varchar AS sub, "
        "(l->>3)::bigint AS amount, (l->>4)::varchar AS currency, (l->>5)::varchar AS kind, "
        "(l->>6)::varchar AS memo "
        f"FROM jsonb_array_elements({legs}::jsonb) AS l)",
        f"ent{k} AS (INSERT INTO ledger_entries (txn_id, account_id, sub_account, amount_minor, "
        "currency, kind, balance_after_minor, memo, created_at) "
        f"SELECT {txn}::varchar, l.account_id, l.sub, l.amount, l.currency, l.kind, CAST("
        f"CASE WHEN l.sub = '{available}' THEN m.available_minor - c.avail "
        "ELSE m.pending_minor - c.pend END "
        "+ SUM(l.amount) OVER (PARTITION BY l.account_id, l.sub ORDER BY l.seq) AS BIGINT), "
        f"l.memo, {when}::timestamptz "
        f"FROM leg{k} l JOIN mov{k} m ON m.id = l.account_id JOIN chg{k} c ON c.id = l.account_id "
        "ORDER BY l.seq)",
    ]

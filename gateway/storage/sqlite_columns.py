"""How SQLAlchemy binds the tables' columns on SQLite, for the raw sqlite3 unit of work.

Rows are written in exactly the format SQLAlchemy writes them (its own bind processors of the
tables' column types), so every other part of the gateway reads them through SQLAlchemy as usual.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from gateway.storage import tables as t

DIALECT = sqlite.dialect()


_last_time: tuple[datetime | None, str | None] = (None, None)


def utc_text(value: datetime | None) -> str | None:
    """A time as UTCDateTime stores it on SQLite (what its SQLAlchemy bind processor gives)."""
    global _last_time
    if value is None:
        return None
    last, text = _last_time
    if value is last:  # one job writes the same `now` into many columns
        return text
    if value.tzinfo is None:
        raise ValueError("naive datetime refused: times are timezone-aware UTC")
    utc = value.astimezone(UTC) if value.utcoffset() else value
    text = utc.replace(tzinfo=None).isoformat(" ", "microseconds")
    _last_time = (value, text)
    return text


def json_text(value: Any) -> str:
    """A JSON column's stored text (SQLAlchemy's default serializer: json.dumps, None is null)."""
    return json.dumps(value)


def bind_processor(column: sa.Column[Any]) -> Callable[[Any], Any] | None:
    # The two types written on every request get a direct function; a test checks that they
    # store exactly what SQLAlchemy's own processors store.
    if isinstance(column.type, t.UTCDateTime):
        return utc_text
    if isinstance(column.type.dialect_impl(DIALECT), sa.JSON):
        return json_text
    return column.type.dialect_impl(DIALECT).bind_processor(DIALECT)


class Columns:
    """Bind and result conversion of some columns of a table, as SQLAlchemy does it on SQLite."""

    def __init__(self, table: sa.Table, names: Iterable[str]) -> None:
        self.table = table
        self.names = tuple(names)
        cols = [table.c[n] for n in self.names]
        self._bind = [bind_processor(c) for c in cols]
        self._result = [c.type.dialect_impl(DIALECT).result_processor(DIALECT, None) for c in cols]
        self.insert = (
            f"INSERT INTO {table.name} ({', '.join(self.names)}) VALUES ({', '.join('?' * len(self.names))})"
        )

    def params(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            values[n] if proc is None else proc(values[n])
            for n, proc in zip(self.names, self._bind, strict=True)
        )

    def mapping(self, row: Sequence[Any]) -> dict[str, Any]:
        return {
            n: proc(v) if proc is not None else v
            for n, proc, v in zip(self.names, self._result, row, strict=True)
        }

    def select_sql(self, where: str) -> str:
        return f"SELECT {', '.join(self.names)} FROM {self.table.name} WHERE {where}"


PAYMENT = Columns(t.payments, [c.name for c in t.payments.columns])
PAYMENT_BY_ID = PAYMENT.select_sql("id = ?")
PAYMENT_BY_REQUEST = PAYMENT.select_sql("app_id = ? AND out_request_no = ?")
ACCOUNT = Columns(t.accounts, ["id", "app_id", "owner", "kind", "currency", "status", "allow_overdraft"])
TXN = Columns(t.ledger_txns, ["id", "subject_id", "created_at"])
ENTRY = Columns(
    t.ledger_entries,
    [
        "txn_id",
        "account_id",
        "sub_account",
        "amount_minor",
        "currency",
        "kind",
        "balance_after_minor",
        "memo",
        "created_at",
    ],
)
TRANSFER = Columns(
    t.transfer_logs,
    [
        "payment_id",
        "ledger_txn_id",
        "payer_account",
        "payee_account",
        "amount_minor",
        "currency",
        "created_at",
    ],
)
DEFERRED = Columns(
    t.deferred_settlements, ["payment_id", "seq", "kind", "postings", "status", "attempts", "due_at"]
)
EXCHANGE = Columns(
    t.channel_exchanges, ["subject_id", "channel", "operation", "request", "response", "error", "at"]
)
OUTBOX = Columns(
    t.outbox,
    [
        "id",
        "app_id",
        "event_type",
        "subject_id",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ],
)
FLOW = Columns(t.flow_log, ["subject_id", "node", "outcome", "message", "detail", "actor", "at"])
NONCE = Columns(t.nonces, ["app_id", "nonce", "seen_at"])


@functools.lru_cache(maxsize=64)
def payment_update(names: tuple[str, ...]) -> tuple[Columns, str]:
    columns = Columns(t.payments, names)
    assignments = ", ".join(f"{n} = ?" for n in names)
    return columns, f"UPDATE payments SET {assignments} WHERE id = ? AND status = ?"

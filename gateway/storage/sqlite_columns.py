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


# a column given no value and declaring no default: NULL, with no conversion (as SQLAlchemy's
# insert leaves it out; converting None would store a JSON column's "null" text instead)
NOT_GIVEN: Any = object()


def insertable(table: sa.Table) -> list[str]:
    """Every column an insert writes: all but an auto-increment key, which SQLite assigns."""
    return [c.name for c in table.columns if not (c.primary_key and c.autoincrement is True)]


def client_default(column: sa.Column[Any]) -> Any:
    """The value SQLAlchemy's insert writes when none is given: the column's scalar default."""
    default = column.default
    if default is None:
        return NOT_GIVEN
    if not isinstance(default, sa.ColumnDefault) or not default.is_scalar:
        raise TypeError(f"{column}: only scalar column defaults can be written by the raw inserts")
    return default.arg


class Columns:
    """Bind and result conversion of some columns of a table, as SQLAlchemy does it on SQLite.

    `params` of an insert fills each column that is not given as SQLAlchemy's insert does: with
    the column's default, else NULL (a test compares the rows of both).
    """

    def __init__(self, table: sa.Table, names: Iterable[str] | None = None) -> None:
        self.table = table
        self.names = tuple(insertable(table) if names is None else names)
        cols = [table.c[n] for n in self.names]
        self._bind = [bind_processor(c) for c in cols]
        self._defaults = [client_default(c) for c in cols]
        self._plan = tuple(zip(self.names, self._defaults, self._bind, strict=True))
        self._result = [c.type.dialect_impl(DIALECT).result_processor(DIALECT, None) for c in cols]
        self.insert = (
            f"INSERT INTO {table.name} ({', '.join(self.names)}) VALUES ({', '.join('?' * len(self.names))})"
        )
        self.insert_if_missing = f"{self.insert} ON CONFLICT DO NOTHING"

    def params(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(
            None
            if (value := values.get(name, default)) is NOT_GIVEN
            else value
            if proc is None
            else proc(value)
            for name, default, proc in self._plan
        )

    def mapping(self, row: Sequence[Any]) -> dict[str, Any]:
        return {
            n: proc(v) if proc is not None else v
            for n, proc, v in zip(self.names, self._result, row, strict=True)
        }

    def select_sql(self, where: str) -> str:
        return f"SELECT {', '.join(self.names)} FROM {self.table.name} WHERE {where}"


# the inserts write every column (defaults filled in); reads name the columns they map
PAYMENT = Columns(t.payments)
PAYMENT_BY_ID = PAYMENT.select_sql("id = ?")
PAYMENT_BY_REQUEST = PAYMENT.select_sql("app_id = ? AND out_request_no = ?")
ACCOUNT = Columns(t.accounts)
ACCOUNT_VIEW = Columns(t.accounts, ["id", "app_id", "owner", "kind", "currency", "status", "allow_overdraft"])
TXN = Columns(t.ledger_txns)
ENTRY = Columns(t.ledger_entries)
TRANSFER = Columns(t.transfer_logs)
DEFERRED = Columns(t.deferred_settlements)
EXCHANGE = Columns(t.channel_exchanges)
OUTBOX = Columns(t.outbox)
FLOW = Columns(t.flow_log)
NONCE = Columns(t.nonces)


@functools.lru_cache(maxsize=64)
def payment_update(names: tuple[str, ...]) -> tuple[Columns, str]:
    columns = Columns(t.payments, names)
    assignments = ", ".join(f"{n} = ?" for n in names)
    return columns, f"UPDATE payments SET {assignments} WHERE id = ? AND status = ?"

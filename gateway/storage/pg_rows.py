"""How SQLAlchemy binds and reads the tables' columns on PostgreSQL, for the raw asyncpg ledger
work (gateway/storage/pg_ledger.py).

Values are converted by the columns' own SQLAlchemy processors for the asyncpg dialect (card
numbers encrypted, times checked UTC, JSON serialised), so every other part of the gateway reads
these rows through SQLAlchemy as usual. An insert sends one array per column and unpacks them
with `unnest`: its text does not depend on how many rows it writes, so asyncpg prepares it once
per connection and reuses it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from gateway.storage import tables as t
from gateway.storage.sqlite_columns import NOT_GIVEN, client_default, insertable

DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


def _storage_type(column: sa.Column[Any]) -> sa.types.TypeEngine[Any]:
    impl = column.type.dialect_impl(DIALECT)
    while isinstance(impl, sa.TypeDecorator):
        impl = impl.impl_instance.dialect_impl(DIALECT)
    return impl


def _array_of(column: sa.Column[Any]) -> tuple[str, str]:
    """The array parameter's element type, and the cast that makes an element the column's type
    (JSON travels as text: its processor gives the serialised text)."""
    kind = _storage_type(column)
    if isinstance(kind, sa.JSON):
        return "text", f"::{kind.compile(dialect=DIALECT)}"
    return kind.compile(dialect=DIALECT), ""


class PgRows:
    """Conversion of some columns of a table, as SQLAlchemy does it on asyncpg."""

    def __init__(self, table: sa.Table, names: Iterable[str] | None = None) -> None:
        self.table = table
        self.names = tuple(insertable(table) if names is None else names)
        cols = [table.c[n] for n in self.names]
        binds = [c.type.dialect_impl(DIALECT).bind_processor(DIALECT) for c in cols]
        self._plan = tuple(zip(self.names, [client_default(c) for c in cols], binds, strict=True))
        self._bind = dict(zip(self.names, binds, strict=True))
        self._results: list[Callable[[Any], Any] | None] = [
            c.type.dialect_impl(DIALECT).result_processor(DIALECT, None) for c in cols
        ]
        self._arrays = [_array_of(c) for c in cols]
        self.columns = ", ".join(self.names)

    def value(self, name: str, value: Any) -> Any:
        """One column's value as the driver takes it."""
        proc = self._bind[name]
        return value if proc is None else proc(value)

    def assignment(self, name: str, placeholder: str) -> str:
        """`name = placeholder` of an UPDATE, the parameter cast to the column's type."""
        kind, cast = self._arrays[self.names.index(name)]
        return f"{name} = {placeholder}::{kind}{cast}"

    def arrays(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        """One list per column (in `names` order) of the rows' converted values; a column not
        given is written as SQLAlchemy's insert writes it: its default, else NULL."""
        out: list[list[Any]] = [[] for _ in self._plan]
        for row in rows:
            for i, (name, default, proc) in enumerate(self._plan):
                value = row.get(name, default)
                out[i].append(None if value is NOT_GIVEN else value if proc is None else proc(value))
        return out

    def insert(self, placeholders: Sequence[str], suffix: str = "") -> str:
        """`INSERT … SELECT … FROM unnest(…)` of the arrays bound to `placeholders`."""
        unpacked = ", ".join(
            f"{p}::{kind}[]" for p, (kind, _cast) in zip(placeholders, self._arrays, strict=True)
        )
        selected = ", ".join(
            f"u.{n}{cast}" for n, (_kind, cast) in zip(self.names, self._arrays, strict=True)
        )
        return (
            f"INSERT INTO {self.table.name} ({self.columns}) "
            f"SELECT {selected} FROM unnest({unpacked}) AS u({self.columns}){suffix}"
        )

    def mapping(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A row read with `SELECT {columns}`, converted as SQLAlchemy converts it."""
        return {
            name: proc(record[name]) if proc is not None else record[name]
            for name, proc in zip(self.names, self._results, strict=True)
        }


PAYMENT = PgRows(t.payments)
ACCOUNT = PgRows(t.accounts)
ACCOUNT_VIEW = PgRows(t.accounts, ["id", "app_id", "owner", "kind", "currency", "status", "allow_overdraft"])
TXN = PgRows(t.ledger_txns)
TRANSFER = PgRows(t.transfer_logs)
DEFERRED = PgRows(t.deferred_settlements)
EXCHANGE = PgRows(t.channel_exchanges)
OUTBOX = PgRows(t.outbox)
FLOW = PgRows(t.flow_log)
NONCE = PgRows(t.nonces)

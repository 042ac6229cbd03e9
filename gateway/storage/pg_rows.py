"""How SQLAlchemy binds and reads the tables' columns on PostgreSQL, for the raw asyncpg ledger
work (gateway/storage/pg_ledger.py).

Values are converted by the columns' own SQLAlchemy processors for the asyncpg dialect (card
numbers encrypted, times checked UTC), so every other part of the gateway reads these rows
through SQLAlchemy as usual. An insert sends its rows as **one JSON parameter** (an array of
objects, times in ISO 8601, a JSON column's value nested as is) that PostgreSQL unpacks with
`jsonb_populate_recordset` into the table's own row type, so each value is read by its column's
type: its text does not depend on how many rows it writes (asyncpg prepares it once per
connection), and the driver encodes one string instead of an array per column (per element
checks that cost more than the rest of the statement's encoding; bench/transfers.py, and
docs/ARCHITECTURE.md "On PostgreSQL").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, time
from decimal import Decimal
from typing import Any

import orjson
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


def _parameter_of(column: sa.Column[Any]) -> tuple[str, str]:
    """A parameter's type for the column, and the cast that makes it the column's type (JSON
    travels as text: its processor gives the serialised text)."""
    kind = _storage_type(column)
    if isinstance(kind, sa.JSON):
        return "text", f"::{kind.compile(dialect=DIALECT)}"
    return kind.compile(dialect=DIALECT), ""


def _json_value(column: sa.Column[Any]) -> Callable[[Any], Any] | None:
    """How a column's bound value is written in the JSON rows: what JSON cannot hold (a time, a
    decimal) as the text PostgreSQL reads back exactly; a JSON column's value as is."""
    kind = _storage_type(column)
    if isinstance(kind, sa.JSON):
        return None
    if isinstance(kind, sa.DateTime | sa.Date | sa.Time):
        return lambda value: value.isoformat() if isinstance(value, date | time) else value
    if isinstance(kind, sa.Numeric):
        return lambda value: str(value) if isinstance(value, Decimal) else value
    return None


# what the standard library's json.dumps cannot write either is handed back, so refused alike
_AS_JSON_DUMPS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value: Any) -> str:
    """`value` as the JSON text of a parameter PostgreSQL reads as jsonb, as json.dumps writes it
    but compact. orjson writes it (a tenth of the standard library's time, on the payment path);
    what orjson refuses (an integer beyond 64 bits, a lone surrogate, a value JSON cannot
    hold) goes to the standard library, which writes it or raises as it always did."""
    try:
        return orjson.dumps(value, option=_AS_JSON_DUMPS).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value, separators=(",", ":"))


class PgRows:
    """Conversion of some columns of a table, as SQLAlchemy does it on asyncpg."""

    def __init__(self, table: sa.Table, names: Iterable[str] | None = None) -> None:
        self.table = table
        # plain str: SQLAlchemy's column names are quoted_name, a subclass of str that orjson
        # does not take as a key (every row would have gone to json.dumps instead)
        self.names = tuple(str(n) for n in (insertable(table) if names is None else names))
        cols = [table.c[n] for n in self.names]
        binds = [c.type.dialect_impl(DIALECT).bind_processor(DIALECT) for c in cols]
        self._bind = dict(zip(self.names, binds, strict=True))
        self._results: list[Callable[[Any], Any] | None] = [
            c.type.dialect_impl(DIALECT).result_processor(DIALECT, None) for c in cols
        ]
        self._parameters = [_parameter_of(c) for c in cols]
        is_json = [isinstance(_storage_type(c), sa.JSON) for c in cols]
        # a JSON column's value goes nested in the rows, not serialised by its processor
        json_binds = [None if j else bind for j, bind in zip(is_json, binds, strict=True)]
        self._plan = tuple(
            zip(
                self.names,
                [client_default(c) for c in cols],
                json_binds,
                [_json_value(c) for c in cols],
                strict=True,
            )
        )
        self.columns = ", ".join(self.names)
        # a JSON column given None is stored as JSON null, as SQLAlchemy's JSON type stores it
        self._selected = ", ".join(
            f"COALESCE(u.{n}, 'null'::jsonb)" if j else f"u.{n}"
            for n, j in zip(self.names, is_json, strict=True)
        )
        self._inserts: dict[tuple[str, str], str] = {}

    def value(self, name: str, value: Any) -> Any:
        """One column's value as the driver takes it."""
        proc = self._bind[name]
        return value if proc is None else proc(value)

    def assignment(self, name: str, placeholder: str) -> str:
        """`name = placeholder` of an UPDATE, the parameter cast to the column's type."""
        kind, cast = self._parameters[self.names.index(name)]
        return f"{name} = {placeholder}::{kind}{cast}"

    def json_rows(self, rows: Sequence[Mapping[str, Any]]) -> str:
        """The rows as the JSON parameter of `json_insert`: each column converted by its processor,
        a column not given written as SQLAlchemy's insert writes it (its default, else NULL)."""
        out = []
        for row in rows:
            converted = {}
            for name, default, proc, as_json in self._plan:
                value = row.get(name, default)
                if value is NOT_GIVEN:
                    value = None
                elif proc is not None:
                    value = proc(value)
                converted[name] = value if as_json is None or value is None else as_json(value)
            out.append(converted)
        return json_text(out)

    def json_insert(self, placeholder: str, suffix: str = "") -> str:
        """`INSERT … SELECT … FROM jsonb_populate_recordset(…)` of the rows bound to `placeholder`."""
        key = (placeholder, suffix)
        text = self._inserts.get(key)
        if text is None:
            text = self._inserts[key] = (
                f"INSERT INTO {self.table.name} ({self.columns}) SELECT {self._selected} "
                f"FROM jsonb_populate_recordset(NULL::{self.table.name}, {placeholder}::jsonb) AS u{suffix}"
            )
        return text

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

"""Write-behind inserts of a PostgreSQL unit of work: rows nobody reads back in the same
transaction (a transfer's log row, an outbox event) ride along with the transaction's next
payment write, as data-modifying CTEs of its statement, instead of costing a round trip each."""

from __future__ import annotations

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import ColumnDefault
from sqlalchemy.sql.dml import UpdateBase

Statement = TypeVar("Statement", bound=UpdateBase)


def with_defaults(table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """`row` with the table's Python-side scalar defaults filled in. SQLAlchemy leaves them
    unset (NULL) in an INSERT that carries CTEs, so such an insert, and each insert made a CTE,
    must name every value itself."""
    missing = {}
    for column in table.c:
        default = column.default
        if column.name not in row and isinstance(default, ColumnDefault) and default.is_scalar:
            missing[column.name] = default.arg
    return {**row, **missing}


class WriteBehind:
    """Held-back inserts. They are written by the statement `attach` is given or, if none
    comes, by `flush` just before COMMIT: either way inside the transaction, so they commit or
    roll back with it. Only for rows the rest of the transaction does not read."""

    def __init__(self) -> None:
        # each entry: a table and the rows of one insert (several rows: one multi-row insert,
        # which keeps their order in the table's serial ids)
        self._rows: list[tuple[sa.Table, list[dict[str, Any]]]] = []
        self._ctes = 0

    def insert(self, table: sa.Table, row: dict[str, Any]) -> None:
        self._rows.append((table, [row]))

    def insert_many(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._rows.append((table, rows))

    def attach(self, stmt: Statement) -> Statement:
        """`stmt` with the held rows' inserts as CTEs (executed whether or not it refers to them)."""
        held, self._rows = self._rows, []
        for table, rows in held:
            self._ctes += 1
            name = f"wb{self._ctes}"
            # binds of their own: two CTEs with a column of the same name never share a value
            values = [
                {
                    column: sa.bindparam(f"{name}_{n}_{column}", value, type_=table.c[column].type)
                    for column, value in with_defaults(table, row).items()
                }
                for n, row in enumerate(rows)
            ]
            insert = table.insert().values(values[0] if len(values) == 1 else values)
            stmt = stmt.add_cte(insert.cte(name))
        return stmt

    async def flush(self, conn: AsyncConnection) -> None:
        held, self._rows = self._rows, []
        for table, rows in held:
            await conn.execute(table.insert(), rows)

    def discard(self) -> None:
        self._rows = []

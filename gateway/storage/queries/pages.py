"""Keyset pagination, newest first by (created_at, id): the one page reader every list uses.

A page never uses OFFSET: the cursor is the id of a row, whose (created_at, id) bounds the next
page, so a page costs the same on the first and the millionth row and rows added meanwhile
neither repeat nor hide others. Rows with the same created_at are kept apart by their id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import InvalidArgument

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class PageRequest:
    """Which page: at most `limit` rows, older than `starting_after` or newer than `ending_before`."""

    limit: int = DEFAULT_LIMIT
    starting_after: str | None = None
    ending_before: str | None = None


@dataclass(frozen=True)
class Page:
    """The rows of a page, newest first, and whether more lie beyond it in its direction."""

    rows: list[sa.Row[Any]]
    has_more: bool


@dataclass(frozen=True)
class Listing:
    """What a list reads: its table, the rows the reader may see at all (`scope`: the caller's
    app), and the filters of this request. A cursor must be a row of the scope, not of the
    filters, so that a row that changed status since the page before still marks the place."""

    table: sa.Table
    scope: Sequence[sa.ColumnElement[bool]] = ()
    filters: Sequence[sa.ColumnElement[bool]] = ()


async def read_page(conn: AsyncConnection, listing: Listing, page: PageRequest) -> Page:
    """One page of the listing's rows, newest first by (created_at, id)."""
    table = listing.table
    key = sa.tuple_(table.c.created_at, table.c.id)
    stmt = sa.select(table).where(*listing.scope, *listing.filters)
    backwards = page.ending_before is not None
    cursor_name = "ending_before" if backwards else "starting_after"
    cursor_id = page.ending_before if backwards else page.starting_after
    if cursor_id is not None:
        at = await _cursor_time(conn, listing, cursor_name, cursor_id)
        bound = sa.tuple_(sa.literal(at, table.c.created_at.type), sa.literal(cursor_id, table.c.id.type))
        stmt = stmt.where(key > bound if backwards else key < bound)
    if backwards:
        stmt = stmt.order_by(table.c.created_at.asc(), table.c.id.asc())
    else:
        stmt = stmt.order_by(table.c.created_at.desc(), table.c.id.desc())
    rows = list((await conn.execute(stmt.limit(page.limit + 1))).all())
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    return Page(rows[::-1] if backwards else rows, has_more)


async def _cursor_time(conn: AsyncConnection, listing: Listing, name: str, cursor_id: str) -> Any:
    table = listing.table
    at = (
        await conn.execute(sa.select(table.c.created_at).where(table.c.id == cursor_id, *listing.scope))
    ).scalar_one_or_none()
    if at is None:
        raise InvalidArgument(
            f"{name}: {cursor_id!r} is not an item of this list; pass the id of an item of a page before",
            field=name,
        )
    return at


def matching(table: sa.Table, **values: Any) -> list[sa.ColumnElement[bool]]:
    """`column = value` for every value given (None: that filter is not asked for)."""
    return [table.c[name] == value for name, value in values.items() if value is not None]


def created_between(table: sa.Table, start: Any, end: Any) -> list[sa.ColumnElement[bool]]:
    """Created at or after `start` and before `end`, either bound left open when None."""
    window = []
    if start is not None:
        window.append(table.c.created_at >= start)
    if end is not None:
        window.append(table.c.created_at < end)
    return window

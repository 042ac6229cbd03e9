"""PostgreSQL's raw ledger work (gateway/storage/pg_ledger.py, its rows sent as jsonb and its
postings as jsonb arrays) stores the rows SQLAlchemy's unit of work stores: the same work through
both, on one database truncated in between, gives equal rows column by column — times to the
microsecond, JSON columns with their nesting and non-ASCII text, the columns left to the tables'
defaults, and a card number that reads back in clear."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from paygate_testkit import PG_ADMIN_URL
from sqlalchemy.ext.asyncio import AsyncEngine
from stored_rows import WRITTEN_BY_LEDGER_WORK, PredictableIds, assert_same_rows, ledger_work, stored

from gateway.settings import DatabaseSettings
from gateway.storage import pg_ledger, sql_repositories
from gateway.storage.engine import create_engine
from gateway.storage.pg_ledger import PgTransactions
from gateway.storage.tables import metadata
from gateway.storage.uow import SqlUnitOfWork
from ports.storage import Transactions, transactions_of

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="PAYGATE_TEST_POSTGRES_URL is not set")
WRITTEN = WRITTEN_BY_LEDGER_WORK


async def _stored_by(
    url: str, transactions: Callable[[AsyncEngine], Transactions], monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[dict[str, Any]]]:
    ids = PredictableIds()
    monkeypatch.setattr(sql_repositories, "new_id", ids)
    monkeypatch.setattr(pg_ledger, "new_id", ids)
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as conn:
            tables = ", ".join(t.name for t in metadata.sorted_tables)
            await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY"))
        await transactions(engine)(ledger_work)
        return await stored(engine)
    finally:
        await engine.dispose()


def _through_sqlalchemy(engine: AsyncEngine) -> Transactions:
    return transactions_of(lambda: SqlUnitOfWork(engine, None))


async def test_the_raw_ledger_work_stores_every_column_as_sqlalchemy_does(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await _stored_by(postgres_database, _through_sqlalchemy, monkeypatch)
    got = await _stored_by(postgres_database, PgTransactions, monkeypatch)
    assert {name for name, rows in got.items() if rows} == WRITTEN
    assert_same_rows(expected, got)

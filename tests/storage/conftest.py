"""The storage contract suite's implementations: every test taking `storage` runs on each."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from paygate_testkit import PG_ADMIN_URL
from sqlalchemy.ext.asyncio import AsyncEngine
from storage_harness import NONCE_WINDOW, SUBSCRIBERS, SqlProbe, StorageUnderTest, fake_storage

from gateway.auth import NonceStore
from gateway.flowbuffer import FlowLogBuffer
from gateway.settings import DatabaseSettings
from gateway.storage.engine import create_engine
from gateway.storage.pg_ledger import PgTransactions
from gateway.storage.sqlite_uow import WriterTransactions
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.tables import metadata
from gateway.storage.uow import SqlUnitOfWork
from ports.storage import transactions_of

IMPLEMENTATIONS = ["fake", "sql-sqlite", "sqlite-writer"] + (
    ["sql-postgresql", "pg-ledger"] if PG_ADMIN_URL else []
)


async def _truncated(url: str) -> AsyncEngine:
    engine = create_engine(DatabaseSettings(url=url))
    async with engine.begin() as conn:
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        await conn.execute(sa.text(f"TRUNCATE {names}"))
    return engine


def _sql(name: str, engine: AsyncEngine) -> StorageUnderTest:
    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, None, SUBSCRIBERS)

    # the gateway's ledger work on PostgreSQL: one statement over the driver connection
    transact = PgTransactions(engine, SUBSCRIBERS) if name == "pg-ledger" else transactions_of(uow)
    return StorageUnderTest(
        name, transact, FlowLogBuffer(uow), NonceStore(uow, NONCE_WINDOW), SqlProbe(engine), uow
    )


@pytest.fixture(params=IMPLEMENTATIONS)
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_database: str | None, sqlite_template: Path
) -> AsyncIterator[StorageUnderTest]:
    # the session's databases are parameters: asked for from inside this async fixture, their
    # (synchronous) creation would run an event loop inside the running one
    if request.param == "fake":
        yield fake_storage()
        return
    if request.param in ("sql-postgresql", "pg-ledger"):
        assert postgres_database is not None
        engine = await _truncated(postgres_database)
        yield _sql(request.param, engine)
        await engine.dispose()
        return
    path = tmp_path / "contract.db"
    shutil.copy(sqlite_template, path)
    # the gateway's engine: its SQLite transactions begin where SQLAlchemy says (savepoints work)
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    if request.param == "sql-sqlite":
        yield _sql("sql-sqlite", engine)
    else:
        writer = SqliteWriter(str(path))
        uow = lambda: SqlUnitOfWork(engine, writer, SUBSCRIBERS)  # noqa: E731
        yield StorageUnderTest(
            "sqlite-writer",
            WriterTransactions(writer, SUBSCRIBERS),
            FlowLogBuffer(uow, writer),
            NonceStore(uow, NONCE_WINDOW, writer),
            SqlProbe(engine),
            uow,
        )
        await writer.aclose()
    await engine.dispose()

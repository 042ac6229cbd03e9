"""A commit that queued outbox events sets `events_committed` (the deliverer's wake-up); a commit
that queued none, and a transaction that rolled back, do not. Both write paths: the SQLAlchemy
unit of work, the SQLite writer's group commit and PostgreSQL's ledger work."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from paygate_testkit import PG_ADMIN_URL
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import DatabaseSettings
from gateway.storage.engine import create_engine
from gateway.storage.pg_ledger import PgTransactions
from gateway.storage.sqlite_uow import WriterTransactions
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.uow import SqlUnitOfWork
from ports.storage import LedgerWork, Transactions

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SUBSCRIBERS = frozenset({"hooked"})


class Refused(Exception):
    pass


@pytest.fixture
async def database(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[tuple[AsyncEngine, Path]]:
    path = tmp_path / "wake.db"
    shutil.copy(sqlite_template, path)
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    yield engine, path
    await engine.dispose()


async def test_the_unit_of_work_sets_it_on_a_commit_that_queued_events(
    database: tuple[AsyncEngine, Path],
) -> None:
    engine, _ = database
    woken = asyncio.Event()

    async def transaction(app_id: str, commit: bool) -> None:
        async with SqlUnitOfWork(engine, None, SUBSCRIBERS, woken) as uow:
            await uow.outbox.enqueue(app_id, "payment.succeeded", "pay_1", {}, at=AT)
            if commit:
                await uow.commit()

    await transaction("hooked", commit=False)
    assert not woken.is_set(), "rolled back: nothing to deliver"
    await transaction("quiet", commit=True)
    assert not woken.is_set(), "an app without notify_url: nothing queued"
    await transaction("hooked", commit=True)
    assert woken.is_set()


async def test_the_sqlite_writer_sets_it_once_the_group_commit_is_durable(
    database: tuple[AsyncEngine, Path],
) -> None:
    _, path = database
    woken = asyncio.Event()
    writer = SqliteWriter(str(path))
    transact = WriterTransactions(writer, SUBSCRIBERS, woken)

    try:
        await _wakes_only_on_a_commit_that_queued(transact, woken)
    finally:
        await writer.aclose()


@pytest.mark.skipif(not PG_ADMIN_URL, reason="PAYGATE_TEST_POSTGRES_URL is not set")
async def test_the_postgresql_ledger_work_sets_it_once_its_statement_committed(
    postgres_database: str,
) -> None:
    engine = create_engine(DatabaseSettings(url=postgres_database))
    woken = asyncio.Event()
    try:
        await _wakes_only_on_a_commit_that_queued(PgTransactions(engine, SUBSCRIBERS, woken), woken)
    finally:
        await engine.dispose()


def _queueing(app_id: str, then_fail: bool = False) -> Callable[[LedgerWork], Awaitable[None]]:
    async def work(w: LedgerWork) -> None:
        await w.outbox.enqueue(app_id, "payment.succeeded", "pay_1", {}, at=AT)
        if then_fail:
            raise Refused

    return work


async def _wakes_only_on_a_commit_that_queued(transact: Transactions, woken: asyncio.Event) -> None:
    with pytest.raises(Refused):
        await transact(_queueing("hooked", then_fail=True))
    assert not woken.is_set(), "rolled back: nothing to deliver"
    await transact(_queueing("quiet"))
    assert not woken.is_set(), "an app without notify_url: nothing queued"
    await transact(_queueing("hooked"))
    assert woken.is_set()

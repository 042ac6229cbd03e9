"""A commit that queued outbox events sets `events_committed` (the deliverer's wake-up); a commit
that queued none, and a transaction that rolled back, do not. Both write paths: the SQLAlchemy
unit of work and the SQLite writer's group commit."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import DatabaseSettings
from gateway.storage.engine import create_engine
from gateway.storage.sqlite_uow import WriterTransactions
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.uow import SqlUnitOfWork
from ports.storage import LedgerWork

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

    def queueing(app_id: str, then_fail: bool = False) -> Callable[[LedgerWork], Awaitable[None]]:
        async def work(w: LedgerWork) -> None:
            await w.outbox.enqueue(app_id, "payment.succeeded", "pay_1", {}, at=AT)
            if then_fail:
                raise Refused

        return work

    try:
        with pytest.raises(Refused):
            await transact(queueing("hooked", then_fail=True))
        assert not woken.is_set(), "its savepoint rolled back: nothing to deliver"
        await transact(queueing("quiet"))
        assert not woken.is_set(), "an app without notify_url: nothing queued"
        await transact(queueing("hooked"))
        assert woken.is_set()
    finally:
        await writer.aclose()

"""The SQLite writer's raw inserts write the rows SQLAlchemy's inserts write: the same work
through SqliteUnitOfWork and through SqlUnitOfWork gives equal rows, column by column, including
the columns the work leaves to the tables' defaults."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from stored_rows import NOW, WRITTEN_BY_LEDGER_WORK, PredictableIds, assert_same_rows, ledger_work, stored

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from gateway.auth import NonceStore
from gateway.flowbuffer import FlowLogBuffer
from gateway.settings import DatabaseSettings
from gateway.storage import sql_repositories, sqlite_uow
from gateway.storage.engine import create_engine
from gateway.storage.sqlite_uow import WriterTransactions
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.uow import SqlUnitOfWork
from ports.storage import Transactions, transactions_of

WRITTEN_BY_THE_WRITER = WRITTEN_BY_LEDGER_WORK | {"nonces"}  # the nonce store's own write too


async def _run(transact: Transactions, flow: FlowLogBuffer, nonces: NonceStore) -> None:
    await transact(ledger_work)
    flow.record(FlowRecord("pay_1", FlowNode.ACCEPTED, FlowOutcome.OK, NOW))
    flow.record(FlowRecord("pay_1", FlowNode.ROUTED, FlowOutcome.FAILED, NOW, "m" * 600, {"a": [1]}, "ops"))
    await flow.flush()
    await nonces.claim("app", "n1", NOW)


@pytest.fixture
def ids(monkeypatch: pytest.MonkeyPatch) -> PredictableIds:
    ids = PredictableIds()
    monkeypatch.setattr(sql_repositories, "new_id", ids)
    monkeypatch.setattr(sqlite_uow, "new_id", ids)
    return ids


async def _through_sqlalchemy(path: Path) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, None)

    await _run(transactions_of(uow), FlowLogBuffer(uow), NonceStore(uow, timedelta(minutes=5)))
    try:
        return await stored(engine)
    finally:
        await engine.dispose()


async def _through_the_writer(path: Path) -> dict[str, list[dict[str, Any]]]:
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{path}"))
    writer = SqliteWriter(str(path))

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, writer)

    await _run(
        WriterTransactions(writer), FlowLogBuffer(uow, writer), NonceStore(uow, timedelta(minutes=5), writer)
    )
    await writer.aclose()
    try:
        return await stored(engine)
    finally:
        await engine.dispose()


async def test_the_writer_stores_every_column_as_sqlalchemy_does(
    tmp_path: Path, sqlite_template: Path, ids: PredictableIds
) -> None:
    shutil.copy(sqlite_template, tmp_path / "sqlalchemy.db")
    shutil.copy(sqlite_template, tmp_path / "writer.db")
    expected = await _through_sqlalchemy(tmp_path / "sqlalchemy.db")
    ids.reset()
    got = await _through_the_writer(tmp_path / "writer.db")
    assert {name for name, rows in got.items() if rows} == WRITTEN_BY_THE_WRITER
    assert_same_rows(expected, got)

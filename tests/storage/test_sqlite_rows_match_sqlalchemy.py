"""The SQLite writer's raw inserts write the rows SQLAlchemy's inserts write: the same work
through SqliteUnitOfWork and through SqlUnitOfWork gives equal rows, column by column, including
the columns the work leaves to the tables' defaults."""

from __future__ import annotations

import itertools
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ledger import AccountKind, BankCard, FlowKind, account_to_open, funding_plan, transfer
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from gateway.auth import NonceStore
from gateway.flowbuffer import FlowLogBuffer
from gateway.settings import DatabaseSettings
from gateway.storage import sql_repositories, sqlite_uow
from gateway.storage.engine import create_engine
from gateway.storage.sqlite_uow import WriterTransactions
from gateway.storage.sqlite_writer import SqliteWriter
from gateway.storage.tables import metadata
from gateway.storage.uow import SqlUnitOfWork
from ports.channels import DeferredPostings, Exchange
from ports.storage import LedgerWork, Transactions, transactions_of

NOW = datetime(2026, 12, 1, 9, 30, 0, 5, tzinfo=UTC)
WRITTEN_BY_THE_WRITER = {
    "accounts",
    "ledger_txns",
    "ledger_entries",
    "payments",
    "transfer_logs",
    "deferred_settlements",
    "outbox",
    "pay_life_log",
    "nonces",
    "channel_exchanges",
}


def _payment(id: str, status: PaymentStatus) -> Payment:
    return Payment(
        id=id,
        app_id="app",
        out_request_no=f"r_{id}",
        request_hash="h",
        pay_method="transfer",
        channel="internal",
        amount=Money(990, "CNY"),
        payer_account="acc_a",
        payee_account="acc_b",
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


async def _work(uow: LedgerWork) -> None:
    card = BankCard("6222020202020202", "Li Lei")
    for account_id, bank_card in (("acc_a", card), ("acc_b", None)):
        await uow.accounts.open(
            account_to_open(
                "app", account_id, AccountKind.CUSTOMER, "CNY", account_id=account_id, bank_card=bank_card
            ),
            at=NOW,
        )
    plan = funding_plan("acc_a", Money(5000, "CNY"))
    await uow.accounts.open_if_missing(plan.source, at=NOW)
    await uow.ledger.post("fnd_1", plan.postings, at=NOW)
    txn = await uow.ledger.post(
        "pay_1", transfer("acc_a", "acc_b", Money(990, "CNY"), FlowKind.TRANSFER), at=NOW
    )
    await uow.payments.add(_payment("pay_1", PaymentStatus.CREATED))
    await uow.payments.add(_payment("pay_2", PaymentStatus.PROCESSING), query_attempts=1)
    await uow.payments.save(
        _payment("pay_1", PaymentStatus.SUCCEEDED), expected_status="created", next_query_at=None
    )
    await uow.outbox.enqueue("app", "payment.succeeded", "pay_1", {"n": 1}, at=NOW)
    await uow.record_transfer(_payment("pay_1", PaymentStatus.SUCCEEDED), txn, at=NOW)
    await uow.record_exchanges("pay_1", "internal", [Exchange("pay", "req", None, "e" * 600)], at=NOW)
    fee = transfer("acc_b", "acc_a", Money(10, "CNY"), FlowKind.FEE)
    await uow.add_deferred("pay_1", [DeferredPostings(1, "fee", fee)], at=NOW)


async def _run(transact: Transactions, flow: FlowLogBuffer, nonces: NonceStore) -> None:
    await transact(_work)
    flow.record(FlowRecord("pay_1", FlowNode.ACCEPTED, FlowOutcome.OK, NOW))
    flow.record(FlowRecord("pay_1", FlowNode.ROUTED, FlowOutcome.FAILED, NOW, "m" * 600, {"a": [1]}, "ops"))
    await flow.flush()
    await nonces.claim("app", "n1", NOW)


async def _dump(engine: Any) -> dict[str, list[dict[str, Any]]]:
    async with engine.connect() as conn:
        return {
            table.name: [
                dict(row._mapping)
                for row in await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in metadata.sorted_tables
        }


class PredictableIds:
    """Ids counted from zero again after each `reset()`, so both runs make the same ones."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._counter = itertools.count()

    def __call__(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter)}"


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
        return await _dump(engine)
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
        return await _dump(engine)
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
    for name, rows in expected.items():
        for row, got_row in zip(rows, got[name], strict=True):
            for column, value in row.items():
                assert (name, column, got_row[column]) == (name, column, value)

"""PostgreSQL's raw ledger work (gateway/storage/pg_ledger.py, its rows sent as JSON and its
postings as JSON arrays) stores the rows SQLAlchemy's unit of work stores: the same work through
both, on two databases, gives equal rows column by column — times to the microsecond, JSON
columns with their nesting and non-ASCII text, the columns left to the tables' defaults, and a
card number that reads back in clear."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from paygate_testkit import PG_ADMIN_URL

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ledger import AccountKind, BankCard, FlowKind, account_to_open, funding_plan, transfer
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from gateway.settings import DatabaseSettings
from gateway.storage import pg_ledger, sql_repositories
from gateway.storage.engine import create_engine
from gateway.storage.pg_ledger import PgTransactions
from gateway.storage.tables import metadata
from gateway.storage.uow import SqlUnitOfWork
from ports.channels import DeferredPostings, Exchange
from ports.storage import LedgerWork, Transactions, transactions_of

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="PAYGATE_TEST_POSTGRES_URL is not set")
NOW = datetime(2026, 12, 1, 9, 30, 0, 5, tzinfo=UTC)
WRITTEN = {
    "accounts",
    "ledger_txns",
    "ledger_entries",
    "payments",
    "transfer_logs",
    "deferred_settlements",
    "outbox",
    "pay_life_log",
    "channel_exchanges",
}


def _payment(id: str, status: PaymentStatus, memo: str = "") -> Payment:
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
        memo=memo,
        details={"upper_merchants": [{"id": "m1", "rate": "0.006"}], "备注": '租金 "quoted" \\ 𝄞'},
    )


async def _work(uow: LedgerWork) -> None:
    card = BankCard("6222020202020202", "李雷")
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
        "pay_1", transfer("acc_a", "acc_b", Money(990, "CNY"), FlowKind.TRANSFER, memo="房租 ' \" ;"), at=NOW
    )
    await uow.payments.add(_payment("pay_1", PaymentStatus.CREATED, memo="三月 rent"))
    await uow.payments.add(_payment("pay_2", PaymentStatus.PROCESSING), query_attempts=1)
    await uow.payments.save(
        _payment("pay_1", PaymentStatus.SUCCEEDED), expected_status="created", next_query_at=None
    )
    await uow.outbox.enqueue("app", "payment.succeeded", "pay_1", {"n": 1, "x": [None, 1.5]}, at=NOW)
    await uow.record_transfer(_payment("pay_1", PaymentStatus.SUCCEEDED), txn, at=NOW)
    await uow.record_exchanges("pay_1", "internal", [Exchange("pay", "req", None, "é" * 600)], at=NOW)
    fee = transfer("acc_b", "acc_a", Money(10, "CNY"), FlowKind.FEE)
    await uow.add_deferred("pay_1", [DeferredPostings(1, "fee", fee)], at=NOW)
    await uow.write_flow(
        [
            FlowRecord("pay_1", FlowNode.ACCEPTED, FlowOutcome.OK, NOW),
            FlowRecord(
                "pay_1", FlowNode.ROUTED, FlowOutcome.FAILED, NOW, "路由 " * 100, {"a": [1, {}]}, "ops"
            ),
        ]
    )


class PredictableIds:
    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self, prefix: str) -> str:
        return f"{prefix}_{next(self._counter)}"


async def _stored(
    url: str, transact_of: Any, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[dict[str, Any]]]:
    ids = PredictableIds()
    monkeypatch.setattr(sql_repositories, "new_id", ids)
    monkeypatch.setattr(pg_ledger, "new_id", ids)
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with engine.begin() as conn:
            tables = ", ".join(t.name for t in metadata.sorted_tables)
            await conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY"))
        transact: Transactions = transact_of(engine)
        await transact(_work)
        async with engine.connect() as conn:
            return {
                table.name: [
                    dict(row._mapping)
                    for row in await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                ]
                for table in metadata.sorted_tables
            }
    finally:
        await engine.dispose()


async def test_the_raw_ledger_work_stores_every_column_as_sqlalchemy_does(
    postgres_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = await _stored(
        postgres_database, lambda engine: transactions_of(lambda: SqlUnitOfWork(engine, None)), monkeypatch
    )
    got = await _stored(postgres_database, PgTransactions, monkeypatch)
    assert {name for name, rows in got.items() if rows} == WRITTEN
    for name, rows in expected.items():
        assert len(got[name]) == len(rows), name
        for row, got_row in zip(rows, got[name], strict=True):
            for column, value in row.items():
                assert (name, column, got_row[column]) == (name, column, value)

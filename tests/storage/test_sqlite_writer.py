"""The SQLite writer: group commit with a savepoint per job, failures kept to their job, turns
for SQLAlchemy writers, and rows stored exactly as SQLAlchemy stores them."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from core.errors import InsufficientFunds
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ledger import FlowKind, transfer
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from gateway.settings import DatabaseSettings
from gateway.storage import tables as t
from gateway.storage.engine import create_engine
from gateway.storage.sqlite_columns import json_text, utc_text
from gateway.storage.sqlite_uow import (
    SqliteUnitOfWork,
    WriterTransactions,
    drive,
    write_flow,
)
from gateway.storage.sqlite_writer import SqliteWriter, WriterUnavailable
from gateway.storage.uow import SqlUnitOfWork
from ports.storage import DuplicateRequest

NOW = datetime(2026, 11, 22, 8, 30, 0, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "w.db"
    shutil.copy(sqlite_template, path)
    return str(path)


def _rows(path: str, sql: str) -> list[Any]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def _insert_nonce(nonce: str) -> Any:
    def job(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO nonces (app_id, nonce, seen_at) VALUES ('a', ?, '2026-01-01')", (nonce,))
        return nonce

    return job


async def test_concurrent_jobs_share_commits_and_each_gets_its_result(db: str) -> None:
    writer = SqliteWriter(db)
    results = await asyncio.gather(*(writer.run(_insert_nonce(f"n{i}")) for i in range(50)))
    assert results == [f"n{i}" for i in range(50)]
    assert writer.jobs == 50 and writer.batches < 50  # grouped, not one commit each
    assert _rows(db, "SELECT count(*) FROM nonces") == [(50,)]
    await writer.aclose()


async def test_a_failing_job_rolls_back_only_itself(db: str) -> None:
    writer = SqliteWriter(db)

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO nonces (app_id, nonce, seen_at) VALUES ('a', 'half', '2026-01-01')")
        raise InsufficientFunds("no money")

    outcomes = await asyncio.gather(
        writer.run(_insert_nonce("before")),
        writer.run(half_then_fail),
        writer.run(_insert_nonce("before")),  # duplicate key: its own failure
        writer.run(_insert_nonce("after")),
        return_exceptions=True,
    )
    assert outcomes[0] == "before" and outcomes[3] == "after"
    assert isinstance(outcomes[1], InsufficientFunds)
    assert isinstance(outcomes[2], sqlite3.IntegrityError)
    assert sorted(_rows(db, "SELECT nonce FROM nonces")) == [("after",), ("before",)]
    await writer.aclose()


async def test_a_failed_commit_fails_every_job_of_the_batch(db: str) -> None:
    writer = SqliteWriter(db)

    def poison(conn: sqlite3.Connection) -> None:
        # a deferred foreign key is checked at COMMIT: the whole batch cannot commit
        conn.execute("PRAGMA defer_foreign_keys=ON")
        conn.execute(
            "INSERT INTO ledger_entries (txn_id, account_id, sub_account, amount_minor, currency, kind,"
            " balance_after_minor, memo, created_at) VALUES ('no-txn', 'no-acc', '1', 1, 'CNY', 'x', 1, '',"
            " '2026-01-01')"
        )

    outcomes = await asyncio.gather(
        writer.run(_insert_nonce("x")), writer.run(poison), return_exceptions=True
    )
    assert all(isinstance(o, WriterUnavailable) for o in outcomes)
    assert _rows(db, "SELECT count(*) FROM nonces") == [(0,)]
    assert await writer.run(_insert_nonce("y")) == "y"  # and the writer goes on
    await writer.aclose()


async def test_turns_keep_sqlalchemy_writers_out_of_open_batches(db: str) -> None:
    writer = SqliteWriter(db)
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{db}"))
    order: list[str] = []

    async def sqlalchemy_writer(i: int) -> None:
        async with SqlUnitOfWork(engine, writer) as uow:
            await uow.conn.execute(t.nonces.insert().values(app_id="b", nonce=f"s{i}", seen_at=NOW))
            await asyncio.sleep(0.01)  # holds its turn across awaits
            await uow.commit()
        order.append(f"s{i}")

    async def batch_writer(i: int) -> None:
        await writer.run(_insert_nonce(f"j{i}"))
        order.append(f"j{i}")

    await asyncio.gather(*(f(i) for i in range(10) for f in (sqlalchemy_writer, batch_writer)))
    assert _rows(db, "SELECT count(*) FROM nonces") == [(20,)]  # nobody hit "database is locked"
    assert sorted(order) == sorted([f"s{i}" for i in range(10)] + [f"j{i}" for i in range(10)])
    await engine.dispose()
    await writer.aclose()


async def test_a_cancelled_turn_waiter_does_not_block_the_writer(db: str) -> None:
    writer = SqliteWriter(db)

    async def hold() -> None:
        async with writer.turn():
            await asyncio.sleep(0.05)

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    waiter.cancel()
    await holder
    assert await asyncio.wait_for(writer.run(_insert_nonce("z")), 2) == "z"
    await writer.aclose()


async def test_the_writer_refuses_work_once_closed(db: str) -> None:
    writer = SqliteWriter(db)
    await writer.run(_insert_nonce("a"))
    await writer.aclose()
    with pytest.raises(WriterUnavailable):
        await writer.run(_insert_nonce("b"))


def test_in_memory_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="file"):
        SqliteWriter(":memory:")


# -- the writer's unit of work ----------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        NOW,
        NOW.replace(microsecond=123456),
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=8))),
        None,
    ],
)
def test_times_are_stored_as_sqlalchemy_stores_them(value: datetime | None) -> None:
    dialect = sa.create_engine("sqlite://").dialect
    expected = t.payments.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)(value)  # type: ignore[misc]
    assert utc_text(value) == expected


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc_text(datetime(2026, 1, 1))


@pytest.mark.parametrize("value", [{"a": 1, "b": ["x", None]}, {"中文": "¥1.00"}, [], None])
def test_json_is_stored_as_sqlalchemy_stores_it(value: Any) -> None:
    dialect = sa.create_engine("sqlite://").dialect
    processor = t.payments.c.details.type.dialect_impl(dialect).bind_processor(dialect)
    assert json_text(value) == processor(value)  # type: ignore[misc]


def _payment(status: PaymentStatus = PaymentStatus.SUCCEEDED) -> Payment:
    return Payment(
        id="pay_1",
        app_id="app",
        out_request_no="r1",
        request_hash="h" * 64,
        pay_method="transfer",
        channel="internal_transfer",
        amount=Money(1234, "CNY"),
        payer_account="acc_a",
        payee_account="acc_b",
        status=status,
        created_at=NOW,
        updated_at=NOW + timedelta(microseconds=5),
        business_type="trade",
        memo="rent",
        channel_ref="pay_1",
        details={"fee": {"amount": "1.00"}},
    )


async def test_rows_written_by_the_writer_read_back_through_sqlalchemy(db: str) -> None:
    writer = SqliteWriter(db)
    transact = WriterTransactions(writer)
    with sqlite3.connect(db) as conn:
        for acc in ("acc_a", "acc_b"):
            conn.execute(
                "INSERT INTO accounts (id, app_id, owner, kind, currency, status, allow_overdraft,"
                " available_minor, pending_minor, created_at) VALUES (?, 'app', 'o', 'C', 'CNY', 'normal',"
                " 0, 5000, 0, '2026-01-01 00:00:00.000000')",
                (acc,),
            )

    async def work(uow: Any) -> str:
        await uow.payments.add(_payment())
        txn: str = await uow.ledger.post(
            "pay_1", transfer("acc_a", "acc_b", Money(1234, "CNY"), FlowKind.TRANSFER), at=NOW
        )
        await uow.outbox.enqueue("app", "payment.succeeded", "pay_1", {"payment": {"id": "pay_1"}}, at=NOW)
        return txn

    txn = await transact(work)
    await writer.run(
        lambda conn: write_flow(
            conn, [FlowRecord("pay_1", FlowNode.ACCEPTED, FlowOutcome.OK, NOW, "ok", {"k": "v"})]
        )
    )
    engine = create_async_engine(f"sqlite+aiosqlite:///{db}")
    async with SqlUnitOfWork(engine, None) as uow:
        assert await uow.payments.get("pay_1") == _payment()
        entries = (await uow.conn.execute(sa.select(t.ledger_entries).order_by(t.ledger_entries.c.id))).all()
        assert [(e.account_id, e.amount_minor, e.balance_after_minor, e.txn_id) for e in entries] == [
            ("acc_a", -1234, 3766, txn),
            ("acc_b", 1234, 6234, txn),
        ]
        event = (await uow.conn.execute(sa.select(t.outbox))).one()
        assert event.payload["payment"] == {"id": "pay_1"} and event.next_attempt_at == NOW
        flow = (await uow.conn.execute(sa.select(t.flow_log))).one()
        assert (flow.node, flow.detail, flow.at) == ("accepted", {"k": "v"}, NOW)
    await engine.dispose()

    async def again(uow: Any) -> None:
        await uow.payments.add(_payment())

    with pytest.raises(DuplicateRequest):
        await transact(again)

    async def overdraw(uow: Any) -> None:
        await uow.ledger.post(
            "pay_2", transfer("acc_a", "acc_b", Money(999_999, "CNY"), FlowKind.TRANSFER), at=NOW
        )

    with pytest.raises(InsufficientFunds):
        await transact(overdraw)
    assert _rows(db, "SELECT id, available_minor FROM accounts ORDER BY id") == [
        ("acc_a", 3766),
        ("acc_b", 6234),
    ]
    await writer.aclose()


def test_work_that_waits_is_refused() -> None:
    async def waits(uow: Any) -> None:
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="may only use its unit of work"):
        drive(waits(SqliteUnitOfWork(sqlite3.connect(":memory:"))))


async def test_purge_drops_only_nonces_older_than_the_cutoff(db: str) -> None:
    from gateway.storage.sqlite_uow import claim_nonce, purge_nonces

    writer = SqliteWriter(db)
    for nonce, at in (("old", NOW - timedelta(minutes=11)), ("new", NOW - timedelta(minutes=1))):
        assert await writer.run(lambda c, n=nonce, a=at: claim_nonce(c, "app", n, a))
    assert not await writer.run(lambda c: claim_nonce(c, "app", "new", NOW))  # a replay
    assert await writer.run(lambda c: purge_nonces(c, NOW - timedelta(minutes=10))) == 1
    assert _rows(db, "SELECT nonce FROM nonces") == [("new",)]
    await writer.aclose()

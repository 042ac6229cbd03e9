"""PostgreSQL's ledger work (gateway/storage/pg_ledger.py) beyond the storage contract: its
connection goes back to the pool clean after every kind of ending, and it works without
prepared-statement caches (PgBouncer in transaction mode)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from paygate_testkit import PG_ADMIN_URL

from core.errors import InsufficientFunds
from core.ledger import FlowKind, Posting, transfer
from core.money import Money
from gateway.settings import DatabaseSettings
from gateway.storage.engine import create_engine
from gateway.storage.pg_ledger import PgLedgerWork, PgTransactions
from gateway.storage.tables import metadata
from ports.storage import DuplicateRequest, LedgerWork

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="PAYGATE_TEST_POSTGRES_URL is not set")
AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(params=[True, False], ids=["statement-cache", "no-statement-cache"])
async def transact(request: pytest.FixtureRequest, postgres_database: str) -> AsyncIterator[PgTransactions]:
    # one connection only: every work reuses the connection the previous one gave back
    settings = DatabaseSettings(url=postgres_database, pool_size=1, statement_cache=request.param)
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)}"))
        await conn.execute(
            sa.text(
                "INSERT INTO accounts (id, app_id, owner, kind, currency, status, available_minor, "
                "pending_minor, allow_overdraft, created_at) VALUES "
                "('acc_a', 'app', 'a', 'C', 'CNY', 'active', 1000, 0, false, now()), "
                "('acc_b', 'app', 'b', 'C', 'CNY', 'active', 0, 0, false, now())"
            )
        )
    yield PgTransactions(engine)
    await engine.dispose()


async def _balances(transact: PgTransactions) -> list[int]:
    async with transact.engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT available_minor FROM accounts ORDER BY id"))
        return [r[0] for r in rows]


def _legs(minor: int) -> tuple[Posting, ...]:
    return transfer("acc_a", "acc_b", Money(minor, "CNY"), FlowKind.TRANSFER)


def _pay(minor: int, *, read_first: bool = False) -> Callable[[LedgerWork], Awaitable[str]]:
    async def work(w: LedgerWork) -> str:
        if read_first:  # a read: the work takes an explicit transaction
            await w.payments.get("pay_none")
        return await w.ledger.post("pay_1", _legs(minor), at=AT)

    return work


@pytest.mark.parametrize("read_first", [False, True], ids=["one-statement", "explicit-transaction"])
async def test_every_ending_gives_the_connection_back_clean(
    transact: PgTransactions, read_first: bool
) -> None:
    await transact(_pay(100, read_first=read_first))
    with pytest.raises(InsufficientFunds):
        await transact(_pay(5000, read_first=read_first))

    async def failing(w: LedgerWork) -> None:
        await w.payments.get("pay_none")
        await w.ledger.post("pay_2", _legs(1), at=AT)
        raise RuntimeError("the work itself fails")

    with pytest.raises(RuntimeError):
        await transact(failing)
    await transact(_pay(200, read_first=read_first))
    assert await _balances(transact) == [700, 300]


async def test_a_work_that_goes_on_after_a_refusal_is_stopped(transact: PgTransactions) -> None:
    """A refusal rolled back everything the work wrote; going on would write the rest alone."""
    from test_storage_contract import payment

    await transact(lambda w: w.payments.add(payment()))

    async def stubborn(w: LedgerWork) -> None:
        await w.ledger.post("pay_2", _legs(100), at=AT)
        try:
            await w.payments.add(payment(id="pay_2"))
            await w.payments.get("pay_2")  # sends the held writes: the repeat is refused
        except DuplicateRequest:
            await w.payments.add(payment(id="pay_3", out_request_no="r3"))

    with pytest.raises(RuntimeError, match="went on after"):
        await transact(stubborn)
    assert await _balances(transact) == [1000, 0]


async def test_a_cancelled_work_gives_its_connection_back(transact: PgTransactions) -> None:
    started = asyncio.Event()

    async def held_open(w: LedgerWork) -> None:
        await w.payments.get("pay_none")  # BEGIN: an open transaction on the connection
        await w.ledger.post("pay_2", _legs(100), at=AT)
        started.set()
        for _ in range(100_000):  # cancelled while it waits on its own statements
            await w.payments.get("pay_none")

    task = asyncio.create_task(transact(held_open))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await transact(_pay(200))  # the one pool connection is back, its transaction rolled back
    assert await _balances(transact) == [800, 200]


async def test_a_connection_that_cannot_roll_back_is_replaced(
    transact: PgTransactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    finish = PgLedgerWork.finish

    async def broken_rollback(self: PgLedgerWork) -> None:
        seen.append(self.conn.get_server_pid())
        raise ConnectionResetError("the server went away")

    async def failing(w: LedgerWork) -> None:
        await w.payments.get("pay_none")
        raise RuntimeError("the work itself fails")

    async def finish_seen(self: PgLedgerWork) -> None:
        seen.append(self.conn.get_server_pid())
        await finish(self)

    with monkeypatch.context() as patch:
        patch.setattr(PgLedgerWork, "abandon", broken_rollback)
        with pytest.raises(RuntimeError):
            await transact(failing)
    monkeypatch.setattr(PgLedgerWork, "finish", finish_seen)
    await transact(_pay(200))  # the one pool slot is back, on a new connection
    assert len(seen) == 2 and seen[0] != seen[1]
    assert await _balances(transact) == [800, 200]

"""The ledger statements' group commit on PostgreSQL (gateway/storage/pg_batches.py): concurrent
statements share a round trip and a commit, a refused one leaves the others of its batch
committed, two processes' batches never deadlock, a cancelled caller neither loses nor strands
the statements it shares a batch with, and a batch of unknown outcome is never sent again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from paygate_testkit import PG_ADMIN_URL
from prometheus_client import generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine
from test_storage_contract import payment

from core.errors import InsufficientFunds
from core.ledger import FlowKind, transfer
from core.money import Money
from gateway.metrics import Metrics
from gateway.settings import DatabaseSettings
from gateway.storage.engine import create_engine
from gateway.storage.pg_ledger import PgTransactions
from gateway.storage.tables import metadata
from ports.storage import DuplicateRequest, LedgerWork

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="PAYGATE_TEST_POSTGRES_URL is not set")
AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ACCOUNTS = [f"acc_{i:02}" for i in range(8)]
FUNDS = 10_000


@pytest.fixture
async def engine(postgres_database: str) -> AsyncIterator[AsyncEngine]:
    async for engine in _engine(postgres_database, statement_cache=True):
        yield engine


async def _engine(url: str, *, statement_cache: bool) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(DatabaseSettings(url=url, pool_size=48, statement_cache=statement_cache))
    async with engine.begin() as conn:
        await conn.execute(sa.text(f"TRUNCATE {', '.join(t.name for t in metadata.sorted_tables)}"))
        for account in ACCOUNTS:
            await conn.execute(
                sa.text(
                    "INSERT INTO accounts (id, app_id, owner, kind, currency, status, available_minor, "
                    "pending_minor, allow_overdraft, created_at) "
                    "VALUES (:id, 'app_a', :id, 'C', 'CNY', 'active', :funds, 0, false, now())"
                ),
                {"id": account, "funds": FUNDS},
            )
    yield engine
    await engine.dispose()


def _move(payer: str, payee: str, minor: int, n: int) -> Callable[[LedgerWork], Awaitable[str]]:
    """A settled transfer's shape: the payment inserted and its posting, one statement."""

    async def work(w: LedgerWork) -> str:
        await w.payments.add(payment(id=f"pay_{n}", out_request_no=f"r{n}"))
        return await w.ledger.post(
            f"pay_{n}", transfer(payer, payee, Money(minor, "CNY"), FlowKind.TRANSFER), at=AT
        )

    return work


async def _balances(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT id, available_minor FROM accounts"))
        return {r[0]: r[1] for r in rows}


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def _until_waiting_on_locks(engine: AsyncEngine, backends: int) -> list[int]:
    """The pids of the backends waiting on a lock, once there are `backends` of them."""
    for _ in range(500):
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' ORDER BY pid")
            )
            pids = [r[0] for r in rows]
        if len(pids) >= backends:
            return pids
        await asyncio.sleep(0.01)
    raise AssertionError(f"{backends} backends never waited on a lock")


@pytest.mark.parametrize("cached", [True, False], ids=["statement-cache", "no-statement-cache"])
async def test_concurrent_statements_share_round_trips_and_commits(
    postgres_database: str, cached: bool
) -> None:
    """Without prepared-statement caches too, as behind PgBouncer in transaction mode."""
    async for engine in _engine(postgres_database, statement_cache=cached):
        await _share_round_trips_and_commits(engine)


async def _share_round_trips_and_commits(engine: AsyncEngine) -> None:
    transact = PgTransactions(engine)
    moves = [_move(ACCOUNTS[n % 8], ACCOUNTS[(n * 3 + 1) % 8], 10 + n, n) for n in range(40)]
    moves = [m for n, m in enumerate(moves) if ACCOUNTS[n % 8] != ACCOUNTS[(n * 3 + 1) % 8]]

    await asyncio.gather(*(transact(m) for m in moves))

    batches = transact.batches
    assert batches.statements == len(moves) and batches.refused_batches == 0
    assert batches.round_trips < len(moves) / 2  # most went together
    scraped = generate_latest(Metrics(None, batches).registry).decode()
    assert f"paygate_ledger_statements_total {float(len(moves))}" in scraped
    assert f"paygate_ledger_round_trips_total {float(batches.round_trips)}" in scraped
    assert await _count(engine, "ledger_txns") == len(moves) == await _count(engine, "payments")
    assert sum((await _balances(engine)).values()) == FUNDS * len(ACCOUNTS)


async def test_a_refused_statement_leaves_the_rest_of_its_batch_committed(engine: AsyncEngine) -> None:
    transact = PgTransactions(engine)
    await transact(_move(ACCOUNTS[6], ACCOUNTS[7], 1, 999))  # r999 exists: its repeat is refused
    good = [_move(ACCOUNTS[0], ACCOUNTS[1], 100, n) for n in range(10)]
    too_much = _move(ACCOUNTS[2], ACCOUNTS[3], FUNDS + 1, 100)
    repeat = _move(ACCOUNTS[4], ACCOUNTS[5], 1, 999)

    results = await asyncio.gather(
        *(transact(m) for m in good[:5] + [too_much, repeat] + good[5:]), return_exceptions=True
    )

    assert isinstance(results[5], InsufficientFunds) and isinstance(results[6], DuplicateRequest)
    assert all(isinstance(r, str) for i, r in enumerate(results) if i not in (5, 6))
    assert transact.batches.refused_batches >= 1  # they shared a batch, which was sent again one by one
    balances = await _balances(engine)
    assert balances[ACCOUNTS[0]] == FUNDS - 1000 and balances[ACCOUNTS[1]] == FUNDS + 1000
    assert balances[ACCOUNTS[2]] == FUNDS and balances[ACCOUNTS[4]] == FUNDS
    assert await _count(engine, "ledger_txns") == 11


async def test_two_processes_crossing_batches_wait_instead_of_deadlocking(engine: AsyncEngine) -> None:
    """Batch A moves 6→7 then 0→1, batch B (another process) 0→5 then 6→7. Locking statement by
    statement, A would hold 6 and wait for 0 while B holds 0 and waits for 6: PostgreSQL would
    roll one back after its deadlock timeout. Each batch's first statement locks all its
    accounts in id order, so B waits for A's 0 instead. Blockers hold the accounts the lone
    statements and the batches meet, to order the steps."""
    first, second = PgTransactions(engine), PgTransactions(engine)
    async with engine.connect() as blk1, engine.connect() as blk2, engine.connect() as blk3:
        await blk1.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[3]}' FOR UPDATE"))
        await blk2.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[7]}' FOR UPDATE"))
        await blk3.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[4]}' FOR UPDATE"))
        lone1 = asyncio.create_task(first(_move(ACCOUNTS[2], ACCOUNTS[3], 1, 1)))
        lone2 = asyncio.create_task(second(_move(ACCOUNTS[4], ACCOUNTS[5], 1, 2)))
        await _until_waiting_on_locks(engine, 2)
        batch_a = [first(_move(ACCOUNTS[6], ACCOUNTS[7], 1, 3)), first(_move(ACCOUNTS[0], ACCOUNTS[1], 1, 4))]
        batch_b = [
            second(_move(ACCOUNTS[0], ACCOUNTS[5], 1, 5)),
            second(_move(ACCOUNTS[6], ACCOUNTS[7], 1, 6)),
        ]
        a = asyncio.ensure_future(asyncio.gather(*batch_a))
        b = asyncio.ensure_future(asyncio.gather(*batch_b))
        await asyncio.sleep(0.05)
        await blk1.commit()  # lone1 commits, batch A starts and waits on 7
        await lone1
        await _until_waiting_on_locks(engine, 2)  # lone2 and batch A
        await blk3.commit()  # lone2 commits, batch B starts
        await lone2
        await _until_waiting_on_locks(engine, 2)  # batches A and B
        await blk2.commit()
        await a
        await b
    assert first.batches.refused_batches == second.batches.refused_batches == 0
    assert first.batches.round_trips == second.batches.round_trips == 2
    assert await _count(engine, "ledger_txns") == 6
    assert sum((await _balances(engine)).values()) == FUNDS * len(ACCOUNTS)


async def test_a_caller_cancelled_in_the_queue_is_not_sent_one_cancelled_in_its_batch_waits_for_it(
    engine: AsyncEngine,
) -> None:
    transact = PgTransactions(engine)
    async with engine.connect() as blocker, engine.connect() as blocker2:
        await blocker.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[1]}' FOR UPDATE"))
        await blocker2.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[3]}' FOR UPDATE"))
        lone = asyncio.create_task(transact(_move(ACCOUNTS[0], ACCOUNTS[1], 1, 1)))
        await _until_waiting_on_locks(engine, 1)  # in flight: the next ones queue behind it
        owner = asyncio.create_task(transact(_move(ACCOUNTS[2], ACCOUNTS[3], 1, 2)))
        left = asyncio.create_task(transact(_move(ACCOUNTS[2], ACCOUNTS[3], 1, 3)))
        member = asyncio.create_task(transact(_move(ACCOUNTS[2], ACCOUNTS[3], 1, 4)))
        await asyncio.sleep(0.05)
        left.cancel()  # still queued: leaves the queue, never sent
        with pytest.raises(asyncio.CancelledError):
            await left
        await blocker.commit()  # the lone one commits; the batch (2, 4) starts and waits on ACCOUNTS[3]
        await lone
        await _until_waiting_on_locks(engine, 1)
        owner.cancel()  # the batch runs on its connection: it waits for the batch, then is cancelled
        await asyncio.sleep(0.05)
        assert not owner.done()
        await blocker2.commit()
        with pytest.raises(asyncio.CancelledError):
            await owner
        await member
    async with engine.connect() as conn:
        rows = await conn.execute(sa.text("SELECT id FROM payments ORDER BY id"))
        assert [r[0] for r in rows] == ["pay_1", "pay_2", "pay_4"]
    assert transact.batches.statements == 3
    await asyncio.gather(*(transact(_move(ACCOUNTS[4], ACCOUNTS[5], 1, n)) for n in range(10, 50)))


async def test_a_batch_whose_outcome_is_unknown_is_not_sent_again(engine: AsyncEngine) -> None:
    transact = PgTransactions(engine)
    async with engine.connect() as blocker, engine.connect() as blocker2:
        await blocker.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[1]}' FOR UPDATE"))
        await blocker2.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[3]}' FOR UPDATE"))
        lone = asyncio.create_task(transact(_move(ACCOUNTS[0], ACCOUNTS[1], 1, 1)))
        await _until_waiting_on_locks(engine, 1)
        batch = [asyncio.create_task(transact(_move(ACCOUNTS[2], ACCOUNTS[3], 1, n))) for n in (2, 3)]
        await asyncio.sleep(0.05)
        await blocker.commit()
        await lone
        [pid] = await _until_waiting_on_locks(engine, 1)  # the batch, on its owner's connection
        await blocker2.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        # sent again, one would wait on blocker2's lock: bounded, so that fails instead of hanging
        results = await asyncio.wait_for(asyncio.gather(*batch, return_exceptions=True), 10)
        await blocker2.rollback()
    assert all(isinstance(r, Exception) and not isinstance(r, InsufficientFunds) for r in results)
    assert transact.batches.round_trips == 2 and transact.batches.refused_batches == 0
    assert await _count(engine, "payments") == 1
    await asyncio.gather(*(transact(_move(ACCOUNTS[4], ACCOUNTS[5], 1, n)) for n in range(10, 50)))


async def test_a_batch_goes_over_an_open_connection_when_the_first_was_closed(engine: AsyncEngine) -> None:
    """The server closed the first queued statement's idle connection: the batch goes over the
    next one's, and the statement of the closed connection commits with the others."""
    transact = PgTransactions(engine)
    async with engine.connect() as blocker:
        await blocker.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[1]}' FOR UPDATE"))
        lone = asyncio.create_task(transact(_move(ACCOUNTS[0], ACCOUNTS[1], 1, 1)))
        await _until_waiting_on_locks(engine, 1)
        queued = [asyncio.create_task(transact(_move(ACCOUNTS[2], ACCOUNTS[3], 1, n))) for n in (2, 3)]
        await asyncio.sleep(0.05)
        [first, _second] = next(iter(transact.batches._pending.values()))
        pid = first.conn.get_server_pid()
        await blocker.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(500):
            if first.conn.is_closed():
                break
            await asyncio.sleep(0.01)
        await blocker.commit()
        await lone
        await asyncio.wait_for(asyncio.gather(*queued), 10)
    assert transact.batches.round_trips == 2 and transact.batches.statements == 3
    assert await _count(engine, "payments") == 3


async def test_a_lone_statement_rolled_back_by_a_deadlock_is_sent_again(engine: AsyncEngine) -> None:
    """A deadlock rolls the statement back whole: sending it again cannot apply it twice. Here
    the other transaction waits longer before it checks for deadlocks, so the statement is the
    one PostgreSQL rolls back."""
    transact = PgTransactions(engine)
    async with engine.connect() as other:
        await other.execute(sa.text("SET deadlock_timeout = '30s'"))
        await other.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[1]}' FOR UPDATE"))
        lone = asyncio.create_task(transact(_move(ACCOUNTS[0], ACCOUNTS[1], 1, 1)))  # holds 0, waits for 1
        await _until_waiting_on_locks(engine, 1)
        await other.execute(sa.text(f"SELECT 1 FROM accounts WHERE id = '{ACCOUNTS[0]}' FOR UPDATE"))
        await other.commit()  # got 0 once the statement was rolled back; its resend then goes on
        await asyncio.wait_for(lone, 10)
    assert transact.batches.round_trips == 2
    assert await _count(engine, "payments") == 1
    assert (await _balances(engine))[ACCOUNTS[1]] == FUNDS + 1

"""PostgreSQL's batched nonce claims (gateway/storage/nonces.py): concurrent claims share
statements, every nonce is claimed exactly once across processes, two processes claiming the
same nonces in opposite orders never deadlock, and a failing statement fails its claims
without leaving later ones waiting."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from paygate_testkit import PG_ADMIN_URL
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import DatabaseSettings
from gateway.storage.engine import create_engine
from gateway.storage.nonces import PgNonceClaims

pytestmark = pytest.mark.skipif(not PG_ADMIN_URL, reason="PAYGATE_TEST_POSTGRES_URL is not set")
AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
async def engines(postgres_database: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on one database: two gateway processes."""
    first = create_engine(DatabaseSettings(url=postgres_database, pool_size=4))
    second = create_engine(DatabaseSettings(url=postgres_database, pool_size=4))
    async with first.begin() as conn:
        await conn.execute(sa.text("TRUNCATE nonces"))
    yield first, second
    await first.dispose()
    await second.dispose()


async def test_concurrent_claims_share_statements_and_each_nonce_is_claimed_once(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    processes = [PgNonceClaims(engine) for engine in engines]
    keys = [(f"app_{i % 3}", f"n{i}") for i in range(60)]
    attempts = [(claims, key) for key in keys for claims in processes for _ in range(2)]  # 4 each
    random.Random(7).shuffle(attempts)

    answers = await asyncio.gather(*(claims.claim(*key, AT) for claims, key in attempts))

    won: dict[tuple[str, str], int] = {}
    for (_claims, key), answer in zip(attempts, answers, strict=True):
        won[key] = won.get(key, 0) + int(answer)
    assert won == {key: 1 for key in keys}
    statements = sum(claims.statements for claims in processes)
    assert statements < len(attempts) / 4, f"{statements} statements for {len(attempts)} claims"
    async with engines[0].connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM nonces")) == len(keys)


async def test_two_processes_claiming_the_same_nonces_in_opposite_orders_do_not_deadlock(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, other = (PgNonceClaims(engine, max_batch=50) for engine in engines)
    for round_no in range(15):
        keys = [("app_a", f"r{round_no}-{i}") for i in range(50)]
        answers = await asyncio.gather(
            *(one.claim(*key, AT) for key in keys),
            *(other.claim(*key, AT) for key in reversed(keys)),
        )
        assert sum(answers) == len(keys)


async def test_a_caller_that_goes_away_does_not_cancel_the_claims_it_shares_a_statement_with(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    claims = PgNonceClaims(engines[0])
    first = asyncio.ensure_future(claims.claim("app_a", "first", AT))
    second = asyncio.ensure_future(claims.claim("app_a", "second", AT))
    await asyncio.sleep(0)
    first.cancel()
    assert await second is True
    assert not await claims.claim("app_a", "first", AT)  # its statement went out all the same


async def test_a_failing_statement_fails_its_claims_and_the_next_claims_are_sent(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    claims = PgNonceClaims(engines[0])
    async with engines[0].begin() as conn:
        await conn.execute(sa.text("ALTER TABLE nonces RENAME TO nonces_away"))
    try:
        results = await asyncio.gather(
            claims.claim("app_a", "x", AT), claims.claim("app_a", "y", AT), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results), results
    finally:
        async with engines[0].begin() as conn:
            await conn.execute(sa.text("ALTER TABLE nonces_away RENAME TO nonces"))
    assert await asyncio.wait_for(claims.claim("app_a", "x", AT), timeout=10)

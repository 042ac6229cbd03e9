"""A database that cannot answer now (a statement cancelled by `statement_timeout` behind a row
lock, a server that refuses connections) is a 503 DATABASE_UNAVAILABLE with Retry-After that
says to repeat the same request, never a 500: nothing of the request is assumed done, and its
repeat (same out_request_no) is answered from what was stored, so nothing is paid twice."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from paygate_testkit import SignedClient, make_settings


@pytest.fixture
def settings(database_url: str) -> Any:
    if not database_url.startswith("postgresql"):
        pytest.skip("statement_timeout and row locks held from outside: PostgreSQL")
    return make_settings(database_url, database={"statement_timeout_seconds": 0.3})


async def test_a_statement_cancelled_behind_a_row_lock_is_a_503_and_its_repeat_pays_once(
    api: SignedClient, database_url: str
) -> None:
    payer, payee = await api.open_account(), await api.open_account()
    await api.fund(payer, "10.00")
    raw = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        locker = raw.transaction()
        await locker.start()
        await raw.execute("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", payee)  # held from outside
        status, body = await api.pay(
            out_request_no="behind-a-lock", amount="2.50", payer_account=payer, payee_account=payee
        )
        assert (status, body["error"]["code"]) == (503, "DATABASE_UNAVAILABLE"), body
        assert "repeat" in body["error"]["message"]
        await locker.rollback()
    finally:
        await raw.close()
    status, paid = await api.pay(
        out_request_no="behind-a-lock", amount="2.50", payer_account=payer, payee_account=payee
    )
    assert (status, paid["status"]) == (201, "succeeded"), paid
    status, again = await api.pay(
        out_request_no="behind-a-lock", amount="2.50", payer_account=payer, payee_account=payee
    )
    assert (status, again["id"]) == (200, paid["id"])
    assert (await api.balance(payer), await api.balance(payee)) == ("7.50", "2.50")


async def test_connections_the_server_dropped_are_never_handed_out(
    api: SignedClient, database_url: str
) -> None:
    """A server restart (here: every backend of the database terminated): the pool sees the
    connections closed at checkout and opens new ones, so no request fails for it."""
    payer, payee = await api.open_account(), await api.open_account()
    await api.fund(payer, "10.00")
    await api.get("/v1/payments")  # every kind of connection used once
    raw = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    others = "datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
    try:
        assert await raw.fetchval(
            f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {others}"
        )
        for _ in range(100):  # bounded: until the backends are gone (they close their sockets)
            if not await raw.fetchval(f"SELECT count(*) FROM pg_stat_activity WHERE {others}"):
                break
            await asyncio.sleep(0.02)
    finally:
        await raw.close()
    await asyncio.sleep(0.05)  # the gateway's loop reads the closed sockets
    status, paid = await api.pay(
        out_request_no="after-restart", amount="1.00", payer_account=payer, payee_account=payee
    )
    assert (status, paid["status"]) == (201, "succeeded"), paid
    assert (await api.balance(payer), await api.balance(payee)) == ("9.00", "1.00")

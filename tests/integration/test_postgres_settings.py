"""PostgreSQL settings of real deployments reach the connections: statement timeout, TLS mode,
and no prepared-statement caches (PgBouncer in transaction mode)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from paygate_testkit import PG_ADMIN_URL

from gateway.settings import DatabaseSettings
from gateway.storage.engine import create_engine, postgres_connect_args

needs_postgres = pytest.mark.skipif(not PG_ADMIN_URL, reason="PAYGATE_TEST_POSTGRES_URL not set")


def test_defaults_leave_the_driver_alone() -> None:
    assert postgres_connect_args(DatabaseSettings(url="postgresql+asyncpg://h/db")) == {}


def test_each_setting_becomes_its_driver_argument() -> None:
    args = postgres_connect_args(
        DatabaseSettings(
            url="postgresql+asyncpg://h/db",
            sslmode="verify-full",
            statement_timeout_seconds=2.5,
            statement_cache=False,
        )
    )
    assert args["ssl"] == "verify-full"
    assert args["server_settings"] == {"statement_timeout": "2500"}
    assert args["statement_cache_size"] == 0 and args["prepared_statement_cache_size"] == 0
    assert args["prepared_statement_name_func"]() != args["prepared_statement_name_func"]()


def test_an_unknown_sslmode_is_refused() -> None:
    with pytest.raises(ValueError, match="sslmode"):
        DatabaseSettings(url="postgresql+asyncpg://h/db", sslmode="always")


@needs_postgres
async def test_a_statement_over_the_timeout_is_cancelled_without_caches() -> None:
    assert PG_ADMIN_URL is not None
    engine = create_engine(
        DatabaseSettings(
            url=PG_ADMIN_URL, statement_timeout_seconds=0.2, statement_cache=False, sslmode="prefer"
        )
    )
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SHOW statement_timeout"))).scalar_one() == "200ms"
            for _ in range(3):  # the same statement again: prepared afresh each time, by a new name
                assert (await conn.execute(sa.text("SELECT 1"))).scalar_one() == 1
            with pytest.raises(sa.exc.DBAPIError, match="statement timeout"):
                await conn.execute(sa.text("SELECT pg_sleep(2)"))
    finally:
        await engine.dispose()

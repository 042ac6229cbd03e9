"""Alembic environment: runs migrations on the async engine given by the gateway's settings."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.storage import bill_tables as bill_tables  # noqa: F401 - bills on `metadata`
from gateway.storage import lease_tables as lease_tables  # noqa: F401 - lease orders on `metadata`
from gateway.storage import payout_tables as payout_tables  # noqa: F401 - payouts on `metadata`
from gateway.storage import trade_tables as trade_tables  # noqa: F401 - trades on `metadata`
from gateway.storage.tables import UTCDateTime, metadata

config = context.config
MIGRATIONS_LOCK = int.from_bytes(b"paygate", "big")  # a PostgreSQL advisory lock's key


def _render_item(kind: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # migrations must not import the gateway: our UTC type is a timezone-aware DateTime there
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, sa.JSON):
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # several processes migrating at once (`paygate migrate`, or `paygate serve` with
            # auto_migrate) take turns: the lock lasts until this transaction ends, and the next
            # one reads the revision only once it holds it (then finds nothing left to do)
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATIONS_LOCK})
        context.run_migrations()


async def _main() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "the database URL comes from the gateway settings"
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_main())

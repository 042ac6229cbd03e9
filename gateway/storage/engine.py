"""Engine construction: SQLite (embedded default, WAL) or PostgreSQL, from settings only."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from gateway.settings import DatabaseSettings


class NoDatabaseConnection(ConnectionError):
    """The pool could not open a connection to the database server: refused (a restart, a
    failover), timed out, its host unknown. Said apart from a channel's socket errors, which
    are the use case's to handle: this one is a database that cannot answer now."""


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.url,
            echo=settings.echo,
            connect_args={"timeout": 30},
            pool_size=settings.pool_size,
        )
        synchronous = settings.sqlite_synchronous

        @sa.event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @sa.event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            # A writer takes the database lock up front (IMMEDIATE): a deferred transaction that
            # reads, then writes after another connection committed, fails with "database is
            # locked" at once instead of waiting. Readers stay deferred and never block.
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "immediate" else "BEGIN")

        return engine
    # No pre-ping: it costs a round trip on every checkout, i.e. on every unit of work. Instead
    # a checkout looks, without a round trip, whether the driver has seen its socket closed (a
    # server restart, a terminated backend: PostgreSQL says so before it closes): such a
    # connection is replaced before anyone uses it. One the server dropped unseen fails its
    # first statement (503 DATABASE_UNAVAILABLE, gateway/http/errors.py); SQLAlchemy then
    # discards every connection older than the failure, and pool_recycle retires connections
    # before an idle timeout can cut them.
    # No overflow by default (settings.max_overflow): a connection opened beyond the pool is
    # closed as soon as it is returned to a full pool, so under a sustained load above the
    # pool size connections are opened and closed again and again, each a server backend and
    # an asyncpg start-up with type introspection; waiting for a pooled one is cheaper.
    engine = create_async_engine(
        settings.url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        connect_args=postgres_connect_args(settings),
        max_overflow=settings.max_overflow,
        pool_pre_ping=False,
        pool_recycle=settings.pool_recycle_seconds,
        pool_use_lifo=True,
    )
    sa.event.listen(engine.sync_engine.pool, "checkout", _refuse_closed)
    sa.event.listen(engine.sync_engine, "do_connect", _connect_or_say_why_not)
    return engine


def _connect_or_say_why_not(dialect: sa.Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
    """The dialect's own connect (the default), its socket errors raised as NoDatabaseConnection:
    the driver raises them bare, with nothing to tell them from a channel's."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as exc:
        raise NoDatabaseConnection(f"no connection to the database server: {exc}") from exc


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection whose socket the driver saw closed is not handed out: the pool
    discards it and checks out (or opens) another."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise sa.exc.DisconnectionError("the server closed this connection")


def postgres_connect_args(settings: DatabaseSettings) -> dict[str, Any]:
    """asyncpg's connection arguments for the PostgreSQL settings: TLS, statement timeout, and
    no prepared-statement caches (with unique names) for PgBouncer in transaction mode."""
    args: dict[str, Any] = {}
    if settings.sslmode is not None:
        args["ssl"] = settings.sslmode
    if settings.statement_timeout_seconds is not None:
        timeout_ms = max(1, round(settings.statement_timeout_seconds * 1000))
        args["server_settings"] = {"statement_timeout": str(timeout_ms)}
    if not settings.statement_cache:
        args["statement_cache_size"] = 0  # asyncpg's own cache
        args["prepared_statement_cache_size"] = 0  # SQLAlchemy's adapter cache
        args["prepared_statement_name_func"] = lambda: f"__paygate_{uuid.uuid4().hex}__"
    return args

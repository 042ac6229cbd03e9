"""Applying migrations (`paygate migrate`, and at start on the embedded default) and checking at
start that the database is at the code's head revision."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cannot_start import CannotStart, innermost_message, shown_url
from gateway.settings import DatabaseSettings

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaNotCurrent(CannotStart):
    """The database's revision is not the one this code was written for."""


class DatabaseUnreachable(CannotStart):
    """No connection to the configured database: refused, unknown host, unknown role or
    database, wrong password, a folder that does not exist."""


async def check_reachable(engine: AsyncEngine, url: str) -> None:
    """Raises DatabaseUnreachable, in one line, when no connection to the database opens. Only
    the connection is tried here: an error once connected is not a setting to fix."""
    try:
        async with engine.connect():
            pass
    except Exception as exc:
        raise DatabaseUnreachable(
            f"cannot reach the database {shown_url(url)}: {innermost_message(exc)}; check "
            "database.url (PAYGATE_DATABASE__URL) and that its server runs"
        ) from exc


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def upgrade_or_refuse(url: str, revision: str) -> None:
    """`paygate migrate`: `upgrade`, a revision Alembic cannot go to said in one line."""
    try:
        upgrade(url, revision)
    except CommandError as exc:
        raise CannotStart(
            f"cannot migrate to {revision!r}: {exc} (this code's migrations end at {head_revision()})"
        ) from exc


async def check_migratable(engine: AsyncEngine, url: str) -> str | None:
    """The database's revision (None: never migrated). Raises CannotStart, in one line, for a
    database `paygate migrate` cannot take on: one it cannot reach, or one a newer paygate
    migrated (at a revision this code does not ship)."""
    await check_reachable(engine, url)
    current = await current_revision(engine)
    if not _known(current):
        raise SchemaNotCurrent(str(schema_problem(current, head_revision())))
    return current


def migrated(before: str | None, after: str | None, asked: str) -> str:
    """What `paygate migrate <asked>` did, moving the database from `before` to `after`.
    Raises CannotStart when it was asked to go back: migrations only go forward."""
    if after != before:
        return f"database migrated from {before or 'no schema'} to {after}"
    target = _scripts().get_revision(asked)
    if target is not None and target.revision != after:
        raise CannotStart(
            f"the database stays at {after}: {asked} is older, and `paygate migrate` only goes forward"
        )
    return f"database already at {after}"


async def upgrade_async(url: str, revision: str = "head") -> None:
    # Alembic's env runs its own event loop; give it a thread of its own.
    await asyncio.to_thread(upgrade, url, revision)


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))


def _known(revision: str | None) -> bool:
    """Whether this code can migrate a database at `revision` (None: never migrated)."""
    return revision is None or revision in {script.revision for script in _scripts().walk_revisions()}


def head_revision() -> str:
    """The revision the code needs: the head of the shipped migrations."""
    head = _scripts().get_current_head()
    assert head is not None, "the gateway ships its migrations"
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's Alembic revision; None for a database never migrated."""
    async with engine.connect() as conn:
        return await conn.run_sync(_read_revision)


def _read_revision(conn: Connection) -> str | None:
    # read directly rather than through Alembic's MigrationContext, which logs as it starts
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    return None if revision is None else str(revision)


def schema_problem(current: str | None, head: str) -> str | None:
    """What is wrong with a database at `current` for code at `head`, in one line (None: nothing)."""
    if current == head:
        return None
    if current is None:
        return f"the database has no schema (this code needs revision {head}): run `paygate migrate`"
    if _known(current):
        return f"the database is at revision {current}, this code needs {head}: run `paygate migrate`"
    return (
        f"the database is at revision {current}, which this code does not know (its head is {head}):"
        " a newer paygate migrated it; run that version"
    )


async def prepare_schema(engine: AsyncEngine, database: DatabaseSettings) -> None:
    """At start: migrate when `database.migrate_on_start` (the embedded SQLite default), then
    refuse a database that is not at the code's head, on every engine."""
    await check_reachable(engine, database.url)
    if database.migrate_on_start and _known(await current_revision(engine)):
        await upgrade_async(database.url)
    problem = schema_problem(await current_revision(engine), head_revision())
    if problem is not None:
        raise SchemaNotCurrent(problem)

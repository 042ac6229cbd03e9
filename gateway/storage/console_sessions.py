"""The web console's sessions on the database (gateway/storage/console_session_tables.py): the
console's `SessionStore` (gateway/console/session.py), shared by every gateway process on the
database and kept across restarts.

A row is keyed by the sha256 of the session id, never by the id: the id is a random 256-bit
value, so a plain hash suffices, and a read of the table (a backup, a replica) hands out no live
session. Nor a CSRF token: it is derived from the id when the session is found
(`csrf_token_of`), not stored. Reads use the engine; writes run in a unit of work (on SQLite,
the writer's turn).
A page view reads one row and writes nothing unless `seen` is due (`Expiry.seen_step`). Expired
rows are dropped when their session is looked up, and all of them at every login, so the table
holds the live sessions and those that expired since the last login.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from core.ids import utcnow
from gateway.console.session import Expiry, Session, csrf_token_of, new_session_id
from gateway.storage.console_session_tables import console_sessions as table
from gateway.storage.uow import SqlUnitOfWork


def session_key(session_id: str) -> str:
    """The stored key of a session id: its sha256, in hex."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def _session(row: Any, session_id: str) -> Session:
    return Session(
        login=row.login, started=row.started, seen=row.seen, csrf=csrf_token_of(session_id), lang=row.lang
    )


class SqlConsoleSessions:
    """Console sessions by the hash of their id, expiring by `expiry` on `clock`."""

    def __init__(
        self,
        engine: AsyncEngine,
        uow: Callable[[], SqlUnitOfWork],
        expiry: Expiry,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.uow = uow
        self.expiry = expiry
        self.clock = clock

    def _expired_rows(self, now: datetime) -> sa.ColumnElement[bool]:
        return sa.or_(
            table.c.seen < self.expiry.idle_cutoff(now),
            table.c.started < self.expiry.absolute_cutoff(now),
        )

    async def start(self, login: str, lang: str | None = None) -> tuple[str, Session]:
        now = self.clock()
        session_id = new_session_id()
        session = Session(login=login, started=now, seen=now, csrf=csrf_token_of(session_id), lang=lang)
        async with self.uow() as unit:
            await unit.conn.execute(table.delete().where(self._expired_rows(now)))
            await unit.conn.execute(
                table.insert().values(
                    id_hash=session_key(session_id),
                    login=login,
                    started=now,
                    seen=now,
                    lang=lang,
                )
            )
            await unit.commit()
        return session_id, session

    async def find(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        key = session_key(session_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(table).where(table.c.id_hash == key))).first()
        if row is None:
            return None
        session, now = _session(row, session_id), self.clock()
        if self.expiry.expired(session, now):
            await self._write(table.delete().where(table.c.id_hash == key, self._expired_rows(now)))
            return None
        if not self.expiry.seen_due(session, now):
            return session
        # no row: the session ended (logout elsewhere) between the read and this write
        touched = await self._write(table.update().where(table.c.id_hash == key).values(seen=now))
        return replace(session, seen=now) if touched else None

    async def set_lang(self, session_id: str, lang: str) -> None:
        key = session_key(session_id)
        await self._write(table.update().where(table.c.id_hash == key).values(lang=lang))

    async def end(self, session_id: str | None) -> None:
        if session_id:
            await self._write(table.delete().where(table.c.id_hash == session_key(session_id)))

    async def purge(self) -> int:
        """Drop every expired session; how many were dropped."""
        return await self._write(table.delete().where(self._expired_rows(self.clock())))

    async def _write(self, statement: sa.Executable) -> int:
        """Run one writing statement in its own transaction; the rows it touched."""
        async with self.uow() as unit:
            result = await unit.conn.execute(statement)
            await unit.commit()
        return int(result.rowcount)

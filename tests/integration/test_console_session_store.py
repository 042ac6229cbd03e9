"""The console's sessions on the database (`SqlConsoleSessions`), on every database and on a
clock the test moves: only the id's hash is stored, a second store on the same database (another
process, or the same one restarted) finds what the first started, idle and absolute expiry,
expired rows dropped, and `seen` written once a minute rather than at every page view."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from dependency_injector import providers

from gateway.console.session import Expiry, csrf_token_of
from gateway.settings import PaygateSettings
from gateway.storage.console_session_tables import console_sessions as table
from gateway.storage.console_sessions import SqlConsoleSessions
from gateway.storage.uow import SqlUnitOfWork

EXPIRY = Expiry(idle=timedelta(minutes=30), absolute=timedelta(hours=8))


class Clock:
    """The stores' clock; the test moves it."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def move(self, **by: float) -> None:
        self.now += timedelta(**by)


class CountedWrites:
    """The container's units of work, counted: every write of the store opens one."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self.count = 0

    def __call__(self) -> SqlUnitOfWork:
        self.count += 1
        uow: SqlUnitOfWork = self.container.uow()
        return uow


async def _close(container: Any) -> None:
    await container.engine().dispose()
    writer = container.sqlite_writer()
    if writer is not None:
        await writer.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def writes(container: Any) -> AsyncIterator[CountedWrites]:
    yield CountedWrites(container)
    await _close(container)


@pytest.fixture
def store(container: Any, writes: CountedWrites, clock: Clock) -> SqlConsoleSessions:
    return SqlConsoleSessions(container.engine(), writes, EXPIRY, clock)


@pytest.fixture
async def other_store(settings: PaygateSettings, clock: Clock) -> AsyncIterator[SqlConsoleSessions]:
    """A second process's store: its own container, engine and (on SQLite) writer."""
    from gateway.container import Container

    other = Container()
    other.settings.override(providers.Object(settings))
    yield SqlConsoleSessions(other.engine(), other.uow, EXPIRY, clock)
    await _close(other)


async def stored_rows(store: SqlConsoleSessions) -> list[Any]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(sa.select(table))).all())


async def test_only_the_hash_of_the_id_is_stored(store: SqlConsoleSessions) -> None:
    session_id, session = await store.start("demo-viewer", "en")
    [row] = await stored_rows(store)
    assert row.id_hash == hashlib.sha256(session_id.encode()).hexdigest()
    assert session_id not in repr(tuple(row))
    assert (row.login, row.lang, row.started) == ("demo-viewer", "en", session.started)
    # nor its CSRF token: derived from the id when the session is found, never stored
    assert "csrf" not in row._fields and session.csrf not in repr(tuple(row))
    assert session.csrf == csrf_token_of(session_id) != csrf_token_of(session_id + "x")
    assert row.started.tzinfo is not None and row.started.utcoffset() == timedelta(0)
    assert await store.find(row.id_hash) is None  # the stored key does not open the session


async def test_another_process_finds_the_session_with_its_token_and_language(
    store: SqlConsoleSessions, other_store: SqlConsoleSessions
) -> None:
    session_id, session = await store.start("demo-viewer")
    await store.set_lang(session_id, "en")
    found = await other_store.find(session_id)
    assert found is not None and (found.login, found.csrf, found.lang) == ("demo-viewer", session.csrf, "en")
    assert await other_store.find(session_id + "x") is None and await other_store.find(None) is None
    await other_store.end(session_id)
    assert await store.find(session_id) is None and await stored_rows(store) == []


async def test_a_session_ends_after_the_idle_time_without_a_request(
    store: SqlConsoleSessions, clock: Clock
) -> None:
    session_id, _ = await store.start("demo-viewer")
    for _ in range(4):  # requests keep it alive well past one idle time
        clock.move(minutes=29)
        assert await store.find(session_id) is not None
    clock.move(minutes=30, seconds=1)
    assert await store.find(session_id) is None
    assert await stored_rows(store) == []  # dropped when looked up


async def test_a_session_ends_at_the_absolute_limit_however_busy(
    store: SqlConsoleSessions, clock: Clock
) -> None:
    session_id, _ = await store.start("demo-viewer")
    for _ in range(16):
        clock.move(minutes=30)
        assert await store.find(session_id) is not None
    clock.move(seconds=1)  # 8 h and a second after the login
    assert await store.find(session_id) is None


async def test_seen_is_written_once_a_minute_not_at_every_page_view(
    store: SqlConsoleSessions, writes: CountedWrites, clock: Clock
) -> None:
    session_id, _ = await store.start("demo-viewer")
    started, before = clock.now, writes.count
    for _ in range(19):  # 19 page views within 57 s: no write
        clock.move(seconds=3)
        found = await store.find(session_id)
        assert found is not None and found.seen == started
    assert writes.count == before
    [row] = await stored_rows(store)
    assert row.seen == started
    clock.move(seconds=3)  # a minute after the last write
    found = await store.find(session_id)
    assert found is not None and found.seen == clock.now and writes.count == before + 1
    [row] = await stored_rows(store)
    assert row.seen == clock.now


async def test_a_login_drops_every_expired_session(store: SqlConsoleSessions, clock: Clock) -> None:
    old, _ = await store.start("demo-finance")
    for step in range(24):  # busy for 8 h
        clock.move(minutes=20)
        if step == 21:
            idle, _ = await store.start("demo-viewer")  # then left alone for 41 min
        assert await store.find(old) is not None
    clock.move(minutes=1)  # old: 8 h after its login, though seen a minute ago
    live, _ = await store.start("demo-operator")
    assert [r.login for r in await stored_rows(store)] == ["demo-operator"]
    assert await store.find(live) is not None and await store.find(idle) is None


async def test_purge_drops_the_expired_sessions_only(store: SqlConsoleSessions, clock: Clock) -> None:
    await store.start("demo-viewer")
    clock.move(minutes=20)
    kept, _ = await store.start("demo-finance")
    clock.move(minutes=11)
    assert await store.purge() == 1
    assert await store.find(kept) is not None


async def test_every_login_has_its_own_id_and_token(store: SqlConsoleSessions) -> None:
    (a, first), (b, second) = await store.start("demo-viewer"), await store.start("demo-viewer")
    assert a != b and first.csrf != second.csrf and len(a) >= 40
    await store.end(a)
    assert await store.find(a) is None and await store.find(b) is not None

"""Console sessions shared by every gateway process on one database (issue 14: an operator's next
click may land on another process behind the proxy): two apps, each with its own container,
engine and (on SQLite) writer, on one database URL; what one starts the other finds, with its
CSRF token and language; a logout, an expiry or a new login in one ends it in both. On SQLite
the second app is also the first one restarted: a restart logs no one out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
import sqlalchemy as sa
from dependency_injector import providers
from paygate_testkit import SignedClient
from test_console_pages import csrf_token, log_in

from gateway.console.cookie import COOKIE
from gateway.settings import PaygateSettings
from gateway.storage.console_session_tables import console_sessions as table


@pytest.fixture
async def second(aiohttp_client: Any, settings: PaygateSettings) -> AsyncIterator[SignedClient]:
    """A second gateway process on the same database."""
    from gateway.app import create_app
    from gateway.container import Container

    container = Container()
    container.settings.override(providers.Object(settings))
    yield SignedClient(await aiohttp_client(create_app(container)))


def carry(session_id: str, to: SignedClient) -> None:
    """The browser's next request goes to the other process (the proxy chose it)."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[COOKIE] = session_id
    cookie[COOKIE]["path"] = "/console"  # as the gateway sets it: it replaces the one held
    to.client.session.cookie_jar.update_cookies(cookie, to.client.make_url("/console"))


async def logged_in(api: SignedClient, login: str) -> str:
    response = await log_in(api, login)
    assert response.status == 303
    return str(response.cookies[COOKIE].value)


async def status_of(api: SignedClient, path: str = "/console") -> int:
    return (await api.client.get(path, allow_redirects=False)).status


async def move_back(container: Any, **by: timedelta) -> None:
    """Every session's `started` or `seen` that much earlier (as if that much time passed)."""
    async with container.engine().begin() as conn:
        for row in (await conn.execute(sa.select(table))).all():
            values = {name: getattr(row, name) - delta for name, delta in by.items()}
            await conn.execute(table.update().where(table.c.id_hash == row.id_hash).values(**values))


async def test_a_session_started_in_one_process_is_found_in_the_other(
    api: SignedClient, second: SignedClient
) -> None:
    carry(await logged_in(api, "demo-viewer"), second)
    page = await second.client.get("/console", allow_redirects=False)
    assert page.status == 200 and "demo-viewer" in await page.text()


async def test_a_logout_in_one_process_ends_the_session_in_the_other(
    api: SignedClient, second: SignedClient
) -> None:
    carry(await logged_in(api, "demo-viewer"), second)
    assert await status_of(second) == 200
    logout = await api.client.post("/console/logout", data={"csrf_token": await csrf_token(api)})
    assert logout.status == 200 and logout.url.path == "/console/login"
    assert await status_of(second) == 303 and await status_of(api) == 303


async def test_the_csrf_token_and_the_language_hold_in_every_process(
    api: SignedClient, second: SignedClient
) -> None:
    carry(await logged_in(api, "demo-finance"), second)
    token = await csrf_token(api)
    assert "Needs a person now" in await (await api.client.get("/console?lang=en")).text()
    page = await (await second.client.get("/console")).text()
    assert "Needs a person now" in page  # English, chosen in the other process
    assert re.findall(r'name="csrf_token" value="([^"]+)"', page)[0] == token
    posted = await second.client.post(
        "/console/payouts/review", data={"csrf_token": token, "decision": "approve"}
    )
    assert posted.status == 400 and "No payout was ticked" in await posted.text()  # the token held
    forged = await second.client.post(
        "/console/payouts/review", data={"csrf_token": "x", "decision": "approve"}
    )
    assert forged.status == 403


async def test_an_idle_session_ends_in_every_process(
    api: SignedClient, second: SignedClient, container: Any
) -> None:
    carry(await logged_in(api, "demo-viewer"), second)
    await move_back(container, seen=timedelta(minutes=29))
    assert await status_of(second) == 200  # seen now, in the other process
    await move_back(container, seen=timedelta(minutes=29))
    assert await status_of(api) == 200
    await move_back(container, seen=timedelta(minutes=31))
    assert await status_of(second) == 303 and await status_of(api) == 303
    async with container.engine().connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(table)) == 0


async def test_a_session_ends_at_the_absolute_limit_in_every_process(
    api: SignedClient, second: SignedClient, container: Any
) -> None:
    carry(await logged_in(api, "demo-viewer"), second)
    await move_back(container, started=timedelta(hours=7, minutes=59))
    assert await status_of(second) == 200
    await move_back(container, started=timedelta(minutes=2))
    assert await status_of(second) == 303 and await status_of(api) == 303


async def test_a_login_in_the_other_process_starts_a_new_session(
    api: SignedClient, second: SignedClient
) -> None:
    """A cookie planted before the login is ended by it, in every process: no session fixation."""
    first = await logged_in(api, "demo-viewer")
    carry(first, second)
    renewed = await logged_in(second, "demo-finance")
    assert renewed != first
    assert await status_of(api) == 303  # the old id is gone everywhere
    carry(renewed, api)
    assert "demo-finance" in await (await api.client.get("/console")).text()

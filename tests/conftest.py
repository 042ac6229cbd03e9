"""Shared fixtures: a database per test (SQLite always, PostgreSQL when configured), a gateway
app built from overridden settings, and a client that signs its requests like a caller app."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dependency_injector import providers
from hypothesis import settings as hypothesis_settings
from paygate_testkit import (
    DATABASES,
    OTHER_APP,
    OTHER_SECRET,
    PG_ADMIN_URL,
    TEST_SECURITY,
    SignedClient,
    make_settings,
    own_postgres_database,
)
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.settings import PaygateSettings

# Property tests are deterministic by default (the same examples on every run and machine, no
# deadline that a loaded CI machine could miss); `PAYGATE_HYPOTHESIS=deep` explores at random
# and ten times as far, for a search before a release.
hypothesis_settings.register_profile("default", derandomize=True, max_examples=50, deadline=None)
hypothesis_settings.register_profile("deep", max_examples=1000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("PAYGATE_HYPOTHESIS", "default"))


@pytest.fixture(scope="session", autouse=True)
def test_card_vault() -> None:
    """The card vault of every test database, also those built without a container."""
    from gateway.settings import SecuritySettings
    from gateway.storage import card_vault

    card_vault.install(card_vault.vault_from_settings(SecuritySettings.model_validate(TEST_SECURITY)))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gateway.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """One migrated PostgreSQL database for the session; tests truncate it before use."""
    if not PG_ADMIN_URL:
        yield None
        return
    with own_postgres_database("paygate_test") as url:
        yield url


@pytest.fixture(params=DATABASES)
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_database: str | None,
) -> str:
    if request.param == "sqlite":
        path = tmp_path / "paygate.db"
        shutil.copy(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    assert postgres_database is not None

    async def truncate() -> None:
        from gateway.storage.tables import metadata

        engine = create_async_engine(postgres_database)
        async with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            await conn.execute(sa.text(f"TRUNCATE {names}"))
        await engine.dispose()

    asyncio.run(truncate())
    return postgres_database


@pytest.fixture
def settings(database_url: str) -> PaygateSettings:
    return make_settings(database_url)


@pytest.fixture
def container(settings: PaygateSettings) -> Any:
    from gateway.container import Container

    c = Container()
    c.settings.override(providers.Object(settings))
    return c


@pytest.fixture
async def api(aiohttp_client: Any, container: Any) -> AsyncIterator[SignedClient]:
    from gateway.app import create_app

    client = await aiohttp_client(create_app(container))
    yield SignedClient(client)


@pytest.fixture
def other_app(api: SignedClient) -> SignedClient:
    """The same gateway, called by a second caller app."""
    return api.as_app(OTHER_APP, OTHER_SECRET)

"""Shared fixtures: a database per test (SQLite always, PostgreSQL when configured), a gateway
app built from overridden settings, and a client that signs its requests like a caller app."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from dependency_injector import providers
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.auth import signed_headers
from gateway.settings import PaygateSettings

APP_ID = "shop"
APP_SECRET = "shop-secret-0123456789"
OTHER_APP = "other"
OTHER_SECRET = "other-secret-0123456789"
OPS_TOKEN = "ops-token-0123456789"
PG_ADMIN_URL = os.environ.get("PAYGATE_TEST_POSTGRES_URL")

DATABASES = ["sqlite"] + (["postgresql"] if PG_ADMIN_URL else [])

# Hermetic settings: nothing from the developer's ./paygate.toml or PAYGATE_* environment.
for _name in [n for n in os.environ if n.startswith("PAYGATE_") and n != "PAYGATE_TEST_POSTGRES_URL"]:
    del os.environ[_name]
os.environ["PAYGATE_CONFIG"] = str(Path(__file__).with_name("paygate.test.toml"))


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
    from gateway.migrate import upgrade

    name = f"paygate_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(sa.text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base, _, query = PG_ADMIN_URL.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path,
                 postgres_database: str | None) -> str:
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


def make_settings(database_url: str, **overrides: Any) -> PaygateSettings:
    base: dict[str, Any] = {
        "database": {"url": database_url, "auto_migrate": False},
        "apps": {
            APP_ID: {"secret": APP_SECRET, "notify_url": "http://127.0.0.1:9/unused"},
            OTHER_APP: {"secret": OTHER_SECRET},
        },
        "ops": {"tokens": [OPS_TOKEN]},
        "routing": {"rules": [{"name": "transfers", "pay_method": "transfer",
                               "channel": "internal_transfer"}]},
        "workers": {"enabled": False},
        "log": {"json": False},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return PaygateSettings(**base)


@pytest.fixture
def settings(database_url: str) -> PaygateSettings:
    return make_settings(database_url)


@pytest.fixture
def container(settings: PaygateSettings) -> Any:
    from gateway.container import Container

    c = Container()
    c.settings.override(providers.Object(settings))
    return c


class SignedClient:
    """Wraps pytest-aiohttp's test client; signs /v1 calls as an app, /ops calls with a token."""

    def __init__(self, client: Any, app_id: str = APP_ID, secret: str = APP_SECRET) -> None:
        self.client = client
        self.app_id = app_id
        self.secret = secret

    def as_app(self, app_id: str, secret: str) -> SignedClient:
        return SignedClient(self.client, app_id, secret)

    def headers(self, method: str, path: str, body: bytes, **extra: Any) -> dict[str, str]:
        headers = signed_headers(self.app_id, self.secret, method, path, body,
                                 timestamp=extra.pop("timestamp", int(time.time())),
                                 nonce=extra.pop("nonce", secrets.token_hex(12)))
        headers["Content-Type"] = "application/json"
        return headers

    async def call(self, method: str, path: str, payload: Any = None, *, raw: bytes | None = None,
                   **extra: Any) -> tuple[int, Any]:
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        headers = self.headers(method, path, body, **extra) if path.startswith("/v1") else {
            "Authorization": f"Bearer {OPS_TOKEN}", "Content-Type": "application/json"}
        response = await self.client.request(method, path, data=body, headers=headers)
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except json.JSONDecodeError:
            return response.status, text

    async def post(self, path: str, payload: Any = None, **extra: Any) -> tuple[int, Any]:
        return await self.call("POST", path, payload, **extra)

    async def get(self, path: str, **extra: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **extra)

    # domain shortcuts ------------------------------------------------------------------------
    async def open_account(self, kind: str = "C", currency: str = "CNY", owner: str = "someone",
                           **extra: Any) -> str:
        status, body = await self.post("/v1/accounts", {"owner": owner, "kind": kind,
                                                        "currency": currency, **extra})
        assert status == 201, body
        return str(body["id"])

    async def fund(self, account_id: str, amount: str, currency: str = "CNY") -> None:
        status, body = await self.post(f"/ops/accounts/{account_id}/fund", {
            "out_request_no": f"fund-{uuid.uuid4().hex[:12]}", "amount": amount, "currency": currency})
        assert status == 201, body

    async def balance(self, account_id: str) -> str:
        status, body = await self.get(f"/v1/accounts/{account_id}")
        assert status == 200, body
        return str(body["balance"])

    async def pay(self, **fields: Any) -> tuple[int, Any]:
        payload = {"out_request_no": f"req-{uuid.uuid4().hex[:12]}", "pay_method": "transfer",
                   "currency": "CNY", **fields}
        return await self.post("/v1/payments", payload)

    async def ledger_ok(self) -> dict[str, Any]:
        status, body = await self.get("/ops/ledger/check")
        assert status == 200, body
        return dict(body)


@pytest.fixture
async def api(aiohttp_client: Any, container: Any) -> AsyncIterator[SignedClient]:
    from gateway.app import create_app

    client = await aiohttp_client(create_app(container))
    yield SignedClient(client)


@pytest.fixture
def other_app(api: SignedClient) -> SignedClient:
    """The same gateway, called by a second caller app."""
    return api.as_app(OTHER_APP, OTHER_SECRET)

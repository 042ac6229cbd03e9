"""Test kit shared by the gateway's tests: settings, constants and a signing client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from answer_contract import check_answer

from core.operators.model import Role, role_needed
from gateway.auth import signed_headers
from gateway.http.ops_access import permission_for
from gateway.operators import DEMO_OPERATORS
from gateway.settings import PaygateSettings

APP_ID = "shop"
APP_SECRET = "shop-secret-0123456789"
OTHER_APP = "other"
OTHER_SECRET = "other-secret-0123456789"
# the API tokens of the demo operators (one per role) that test gateways create at start-up
DEMO_TOKENS: dict[Role, str] = {demo.role: demo.token for demo in DEMO_OPERATORS}
DEMO_LOGINS: dict[Role, str] = {demo.role: demo.login for demo in DEMO_OPERATORS}
# test gateways hash passwords at argon2's lowest cost: a test is not an attack
CHEAP_PASSWORDS = {"password_time_cost": 1, "password_memory_kib": 8, "password_parallelism": 1}
PG_ADMIN_URL = os.environ.get("PAYGATE_TEST_POSTGRES_URL")
# variables that steer the test run itself, not the gateway's settings
TEST_CONTROLS = {
    "PAYGATE_TEST_POSTGRES_URL",
    "PAYGATE_RECORD_CASSETTES",
    "PAYGATE_CRASH_ROUNDS",  # the crash-safety suite's rounds and seed (tests/e2e/test_crash_safety.py)
    "PAYGATE_CRASH_SEED",
}

DATABASES = ["sqlite"] + (["postgresql"] if PG_ADMIN_URL else [])

# Hermetic settings: nothing from the developer's ./paygate.toml or PAYGATE_* environment.
for _name in [n for n in os.environ if n.startswith("PAYGATE_") and n not in TEST_CONTROLS]:
    del os.environ[_name]
os.environ["PAYGATE_CONFIG"] = str(Path(__file__).with_name("paygate.test.toml"))


# card keys of the test gateways (tests only): the vault the session installs uses the same
TEST_SECURITY: dict[str, Any] = {
    "card_keys": {"test1": "vISSIgI2BjHcA67+V6OQw64DjKAi0YEO8AecKwyjC9s="},
    "active_key_id": "test1",
    "lookup_key": "9FQZGql2vobCj0ivf9lXGxC77i4ZZwAcx6H1j2ANlPc=",
}


def make_settings(database_url: str, **overrides: Any) -> PaygateSettings:
    base: dict[str, Any] = {
        "database": {"url": database_url, "auto_migrate": False},
        "apps": {
            APP_ID: {"secret": APP_SECRET, "notify_url": "http://127.0.0.1:9/unused"},
            OTHER_APP: {"secret": OTHER_SECRET},
        },
        "ops": {"demo_operators": True, **CHEAP_PASSWORDS},
        "routing": {
            "rules": [{"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"}]
        },
        "workers": {"enabled": False},
        "log": {"json": False},
        "security": TEST_SECURITY,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return PaygateSettings(**base)


def _route_pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


def demo_token_for(method: str, path: str) -> str:
    """The API token of the demo operator holding the role an /ops request needs (by the
    gateway's own table, gateway/http/ops_access.py)."""
    from gateway.http.routes import ROUTES

    bare = path.split("?", 1)[0]
    template = next(
        (r.path for r in ROUTES if r.method == method and _route_pattern(r.path).match(bare)), bare
    )
    return DEMO_TOKENS[role_needed(permission_for(method, template))]


class SignedClient:
    """Wraps pytest-aiohttp's test client; signs /v1 calls as an app. /ops calls carry
    `ops_token`, or else the token of the demo operator whose role the route needs."""

    def __init__(
        self, client: Any, app_id: str = APP_ID, secret: str = APP_SECRET, ops_token: str | None = None
    ) -> None:
        self.client = client
        self.app_id = app_id
        self.secret = secret
        self.ops_token = ops_token

    def as_app(self, app_id: str, secret: str) -> SignedClient:
        return SignedClient(self.client, app_id, secret, self.ops_token)

    def as_operator(self, token: str) -> SignedClient:
        """The same client, calling /ops with this operator's API token."""
        return SignedClient(self.client, self.app_id, self.secret, token)

    async def approve_payout(self, payout_id: str, body: Any = None) -> tuple[int, Any]:
        """POST /ops/payouts/{id}/approve, then (when it approved) the payout worker's round, as a
        served gateway runs it at once: the payout as it then stands (its payment submitted)."""
        from gateway.keys import CONTAINER
        from gateway.workers.payouts import PayoutWorker

        status, answer = await self.post(f"/ops/payouts/{payout_id}/approve", {} if body is None else body)
        if status != 200 or answer.get("object") == "approval" or answer.get("status") != "approved":
            return status, answer
        await PayoutWorker(self.client.app[CONTAINER].payout_recovery(), 50).run_once()
        return await self.get(f"/ops/payouts/{payout_id}")

    async def as_new_operator(self, container: Any, login: str, *roles: Role) -> SignedClient:
        """The same client, calling /ops as a new operator holding `roles` (added, with a token)."""
        operators = container.operators()
        await operators.add(login, set(roles), f"{login}-password")
        return self.as_operator((await operators.issue_token(login)).token)

    def ops_headers(self, method: str, path: str) -> dict[str, str]:
        token = self.ops_token if self.ops_token is not None else demo_token_for(method, path)
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def headers(self, method: str, path: str, body: bytes, **extra: Any) -> dict[str, str]:
        headers = signed_headers(
            self.app_id,
            self.secret,
            method,
            path,
            body,
            timestamp=extra.pop("timestamp", int(time.time())),
            nonce=extra.pop("nonce", secrets.token_hex(12)),
        )
        headers["Content-Type"] = "application/json"
        return headers

    async def call(
        self, method: str, path: str, payload: Any = None, *, raw: bytes | None = None, **extra: Any
    ) -> tuple[int, Any]:
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        headers = (
            self.headers(method, path, body, **extra)
            if path.startswith("/v1")
            else self.ops_headers(method, path)
        )
        response = await self.client.request(method, path, data=body, headers=headers)
        text = await response.text()
        try:
            answer = json.loads(text)
        except json.JSONDecodeError:
            return response.status, text
        check_answer(method, path, response.status, answer)
        return response.status, answer

    async def post(self, path: str, payload: Any = None, **extra: Any) -> tuple[int, Any]:
        return await self.call("POST", path, payload, **extra)

    async def get(self, path: str, **extra: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **extra)

    # domain shortcuts ------------------------------------------------------------------------
    async def open_account(
        self, kind: str = "C", currency: str = "CNY", owner: str = "someone", **extra: Any
    ) -> str:
        status, body = await self.post(
            "/v1/accounts", {"owner": owner, "kind": kind, "currency": currency, **extra}
        )
        assert status == 201, body
        return str(body["id"])

    async def fund(self, account_id: str, amount: str, currency: str = "CNY") -> None:
        status, body = await self.post(
            f"/ops/accounts/{account_id}/fund",
            {
                "out_request_no": f"fund-{uuid.uuid4().hex[:12]}",
                "amount": amount,
                "currency": currency,
            },
        )
        assert status == 201, body

    async def balance(self, account_id: str) -> str:
        status, body = await self.get(f"/v1/accounts/{account_id}")
        assert status == 200, body
        return str(body["balance"])

    async def pay(self, **fields: Any) -> tuple[int, Any]:
        payload = {
            "out_request_no": f"req-{uuid.uuid4().hex[:12]}",
            "pay_method": "transfer",
            "currency": "CNY",
            **fields,
        }
        return await self.post("/v1/payments", payload)

    async def ledger_ok(self) -> dict[str, Any]:
        status, body = await self.get("/ops/ledger/check")
        assert status == 200, body
        return dict(body)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServedGateway:
    """`paygate serve` as a child process, called like a caller app and an operator would."""

    def __init__(
        self, port: int, env: dict[str, str], cwd: Path, *, app_id: str, secret: str, ops_token: str
    ) -> None:
        self.port = port
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")} | env
        self.cwd = cwd
        self.app_id, self.secret, self.ops_token = app_id, secret, ops_token
        self.proc: Any = None

    def start(self) -> None:
        import socket
        import subprocess
        import sys

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)  # readiness poll of a child process, bounded by the deadline
        raise AssertionError("gateway did not start")

    def kill(self) -> None:
        """`kill -9`: the gateway and the channel simulators it runs die mid-work."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    async def approve_payout(
        self, session: Any, payout_id: str, body: Any = None, timeout: float = 30.0
    ) -> tuple[int, Any]:
        """POST /ops/payouts/{id}/approve (answered `approved`), then the payout as it stands once
        the gateway's payout worker has submitted its payment (polled, up to `timeout` seconds)."""
        status, payout = await self.call(session, "POST", f"/ops/payouts/{payout_id}/approve", body or {})
        deadline = time.monotonic() + timeout
        while status == 200 and payout.get("status") == "approved" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # the payout worker, woken by the approval, pays it
            status, payout = await self.call(session, "GET", f"/ops/payouts/{payout_id}")
        return status, payout

    async def call(self, session: Any, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        body = b"" if payload is None else json.dumps(payload).encode()
        if path.startswith("/ops"):
            headers = {"Authorization": f"Bearer {self.ops_token}"}
        else:
            headers = signed_headers(
                self.app_id,
                self.secret,
                method,
                path,
                body,
                timestamp=int(time.time()),
                nonce=uuid.uuid4().hex,
            )
        async with session.request(
            method, f"http://127.0.0.1:{self.port}{path}", data=body, headers=headers
        ) as response:
            return response.status, await response.json()


ROOT = Path(__file__).parents[1]
# the demo app of the shipped paygate.toml, and its demo finance operator's token
DEMO_APP, DEMO_SECRET, DEMO_OPS = "demo", "demo-secret-change-me", DEMO_TOKENS[Role.FINANCE]


def shipped_gateway(tmp_path: Path, hook_url: str) -> ServedGateway:
    """`paygate serve` with the shipped paygate.toml, moved to free ports and a private folder
    (each channel simulator included)."""
    port, spdb_port = free_port(), free_port()
    env = {
        "PAYGATE_CONFIG": str(ROOT / "paygate.toml"),
        "PAYGATE_SERVER__PORT": str(port),
        "PAYGATE_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/gw.db",
        "PAYGATE_APPS__DEMO__NOTIFY_URL": hook_url,
        "PAYGATE_NOTIFY__POLL_INTERVAL_SECONDS": "0.1",
        "PAYGATE_WORKERS__POLL_INTERVAL_SECONDS": "0.2",
        "PAYGATE_CHANNELS__ALIPAY_PAYOUT__SANDBOX_PORT": str(free_port()),
        "PAYGATE_CHANNELS__ALIPAY_PAYOUT__SANDBOX_KEYS_DIR": str(tmp_path / "keys"),
        "PAYGATE_CHANNELS__ALIPAY_PAYOUT__NOTIFY_URL": f"http://127.0.0.1:{port}/callbacks/alipay_payout",
        "PAYGATE_CHANNELS__ANT_LEASE__SANDBOX_PORT": str(free_port()),
        "PAYGATE_CHANNELS__ANT_LEASE__SANDBOX_KEYS_DIR": str(tmp_path / "lease_keys"),
        "PAYGATE_CHANNELS__ANT_LEASE__NOTIFY_URL": f"http://127.0.0.1:{port}/callbacks/ant_lease",
        "PAYGATE_CHANNELS__SPDB__SANDBOX_PORT": str(spdb_port),  # its URLs follow the port
    }
    return ServedGateway(port, env, tmp_path, app_id=DEMO_APP, secret=DEMO_SECRET, ops_token=DEMO_OPS)


class Webhooks:
    """A caller app's webhook endpoint (`handle`, an aiohttp handler): checks every signature
    with the app's secret and keeps every event, with the app it was for under "app"."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def handle(self, request: Any) -> Any:
        from aiohttp import web

        from gateway.auth import sign

        body = await request.read()
        app_id = request.headers["X-App-Id"]
        secret = {APP_ID: APP_SECRET, OTHER_APP: OTHER_SECRET}[app_id]
        expected = sign(
            secret, "POST", request.path_qs, request.headers["X-Timestamp"], request.headers["X-Nonce"], body
        )
        assert request.headers["X-Signature"] == expected
        self.events.append({"app": app_id, **json.loads(body)})
        return web.Response(text="ok")

    def of(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event_type"] == event_type]


@contextlib.contextmanager
def own_postgres_database(prefix: str, *, migrate: bool = True) -> Iterator[str]:
    """A PostgreSQL database of its own on the test server (migrated to the head unless told
    otherwise), dropped when the block ends; its URL keeps the admin URL's query."""
    import asyncio

    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    assert PG_ADMIN_URL, "PAYGATE_TEST_POSTGRES_URL is not set"
    admin_url = PG_ADMIN_URL
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(sa.text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base, _, query = admin_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
    try:
        if migrate:
            from gateway.migrate import upgrade

            upgrade(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

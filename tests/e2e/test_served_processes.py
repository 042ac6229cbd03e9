"""Three `paygate serve` processes on one PostgreSQL database under load, one of them killed
with SIGKILL while it holds webhooks and the bill and lease workers' round leases: every webhook
is acknowledged exactly once, the dead process's claimed work is finished by the others, every
settlement is posted once and the ledger checks out. And SQLite refuses a second process."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from paygate_testkit import DEMO_TOKENS, PG_ADMIN_URL, ServedGateway, free_port, own_postgres_database
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.operators.model import Role

SECRET = "e2e-secret-0123456789"
OPS = DEMO_TOKENS[Role.FINANCE]  # the gateways create the demo operators
LEASE_SECONDS = 4
TRANSFERS = 240


class GatedReceiver:
    """The caller app's webhook endpoint: counts each event id it acknowledged; while the gate is
    closed, deliveries wait, and one whose sender has died meanwhile is not acknowledged."""

    def __init__(self) -> None:
        self.acknowledged: Counter[str] = Counter()
        self.waiting: set[str] = set()
        self.gate = asyncio.Event()
        self.gate.set()

    async def handle(self, request: web.Request) -> web.Response:
        event_id = request.headers["X-Event-Id"]
        self.waiting.add(event_id)
        await self.gate.wait()
        self.waiting.discard(event_id)
        if request.transport is None or request.transport.is_closing():
            return web.Response(status=503)  # the sender is gone: nobody takes this answer
        self.acknowledged[event_id] += 1
        return web.Response(text="ok")


@pytest.fixture
def database() -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own (the gateways are other processes)."""
    if not PG_ADMIN_URL:
        pytest.skip("PAYGATE_TEST_POSTGRES_URL not set")
    with own_postgres_database("paygate_e2e") as url:
        yield url


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[GatedReceiver, int]]:
    hooks = GatedReceiver()
    app = web.Application()
    app.router.add_post("/hook", hooks.handle)
    runner = web.AppRunner(app, handler_cancellation=False)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield hooks, port
    hooks.gate.set()
    await runner.cleanup()


def gateway_processes(tmp_path: Path, database: str, hook_port: int) -> list[ServedGateway]:
    config = tmp_path / "paygate.toml"
    config.write_text(
        f'sandbox = false\n[database]\nurl = "{database}"\n'
        f'[apps.e2e]\nsecret = "{SECRET}"\nnotify_url = "http://127.0.0.1:{hook_port}/hook"\n'
        '[ops]\ndemo_operators = true\n[log]\nlevel = "WARNING"\njson = false\n'
        f"[notify]\npoll_interval_seconds = 0.1\ntimeout_seconds = {LEASE_SECONDS - 1}\n"
        f"lease_seconds = {LEASE_SECONDS}\nretry_schedule_seconds = [0, 0, 0, 0, 0, 0]\n"
        "batch_size = 50\nconcurrency = 50\n"  # one wave a round: the short lease outlasts it
        f"[workers]\npoll_interval_seconds = 0.2\nlease_seconds = {LEASE_SECONDS}\n"
        '[[routing.rules]]\npay_method = "transfer"\nchannel = "internal_transfer"\n'
    )
    return [
        ServedGateway(
            port,
            {"PAYGATE_CONFIG": str(config), "PAYGATE_SERVER__PORT": str(port)},
            tmp_path,
            app_id="e2e",
            secret=SECRET,
            ops_token=OPS,
        )
        for port in (free_port(), free_port(), free_port())
    ]


async def eventually(check: Any, seconds: float, what: str) -> Any:
    """Polls `check` (an async callable) until it answers truthily, within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answer := await check():
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(sa.text(sql), params)).scalar_one()


async def transfers(s: aiohttp.ClientSession, gateways: list[ServedGateway], payer: str, payee: str) -> int:
    """TRANSFERS signed transfers with asynchronous settlement, spread over `gateways`."""
    limit = asyncio.Semaphore(16)

    async def one(n: int) -> int:
        async with limit:
            status, body = await gateways[n % len(gateways)].call(
                s,
                "POST",
                "/v1/payments",
                {
                    "out_request_no": f"load-{uuid.uuid4().hex[:16]}",
                    "pay_method": "transfer",
                    "amount": "1.00",
                    "currency": "CNY",
                    "payer_account": payer,
                    "payee_account": payee,
                    "settlement": "async",
                },
            )
            assert status == 201 and body["status"] == "succeeded", body
            return 1

    return sum(await asyncio.gather(*(one(n) for n in range(TRANSFERS))))


def holder_of(gw: ServedGateway) -> str:
    return f"%:{gw.proc.pid}:%"


async def test_three_processes_share_the_work_and_survive_a_kill(
    tmp_path: Path, database: str, receiver: tuple[GatedReceiver, int]
) -> None:
    hooks, hook_port = receiver
    doomed, *survivors = gateway_processes(tmp_path, database, hook_port)
    engine = create_async_engine(database)
    doomed.start()  # first, so that it takes the bill and lease workers' round leases
    try:
        leases = "SELECT count(*) FROM worker_leases WHERE holder LIKE :h"
        await eventually(lambda: scalar(engine, leases, h=holder_of(doomed)), 10, "round leases taken")
        for gw in survivors:
            gw.start()
        async with aiohttp.ClientSession() as s:
            first = survivors[0]
            _, payer = await first.call(
                s, "POST", "/v1/accounts", {"owner": "p", "kind": "C", "currency": "CNY"}
            )
            _, payee = await first.call(
                s, "POST", "/v1/accounts", {"owner": "q", "kind": "B", "currency": "CNY"}
            )
            funding = {"out_request_no": "fund-1", "amount": "10000.00", "currency": "CNY"}
            assert (await first.call(s, "POST", f"/ops/accounts/{payer['id']}/fund", funding))[0] == 201
            paid = await transfers(s, [doomed, *survivors], payer["id"], payee["id"])

            # webhooks wait at the receiver; kill the doomed process while every event it
            # holds is waiting there (none acknowledged and not yet recorded: no duplicate)
            hooks.gate.clear()
            paid += await transfers(s, [doomed, *survivors], payer["id"], payee["id"])
            held = "SELECT id FROM outbox WHERE status = 'pending' AND leased_by LIKE :h"

            async def all_waiting() -> set[str]:
                async with engine.connect() as conn:
                    ids = set((await conn.execute(sa.text(held), {"h": holder_of(doomed)})).scalars())
                return ids if ids and ids <= hooks.waiting else set()

            claimed_by_dead = await eventually(all_waiting, 10, "the doomed process holds webhooks")
            doomed.proc.kill()  # SIGKILL: no shut-down, no lease released
            doomed.proc.wait()
            await asyncio.sleep(0.5)  # its connections' end reaches the receiver
            hooks.gate.set()

            paid += await transfers(s, survivors, payer["id"], payee["id"])  # the others serve on
            undelivered = "SELECT count(*) FROM outbox WHERE status <> 'delivered'"
            await eventually(lambda: _none(engine, undelivered), 30, "every webhook delivered")
            unsettled = "SELECT count(*) FROM deferred_settlements WHERE status <> 'applied'"
            await eventually(lambda: _none(engine, unsettled), 20, "every settlement applied")
            taken_over = (
                "SELECT count(*) FROM worker_leases WHERE holder NOT LIKE :h AND leased_until > now()"
            )
            await eventually(
                lambda: scalar(engine, taken_over, h=holder_of(doomed)), 20, "round leases taken over"
            )

            events = await scalar(engine, "SELECT count(*) FROM outbox")
            assert events == paid == 3 * TRANSFERS
            assert len(hooks.acknowledged) == events and set(hooks.acknowledged.values()) == {1}
            assert claimed_by_dead <= set(hooks.acknowledged)
            _, account = await first.call(s, "GET", f"/v1/accounts/{payee['id']}")
            assert (account["balance"], account["pending_balance"]) == (f"{paid}.00", "0.00")
            status, check = await first.call(s, "GET", "/ops/ledger/check")
            assert status == 200 and check["ok"], check
    finally:
        await engine.dispose()
        for gw in survivors:
            gw.stop()
        if doomed.proc is not None and doomed.proc.poll() is None:
            doomed.stop()


async def _none(engine: AsyncEngine, sql: str) -> bool:
    return bool(await scalar(engine, sql) == 0)


def test_sqlite_refuses_a_second_process_on_its_file(tmp_path: Path) -> None:
    config = tmp_path / "paygate.toml"
    config.write_text(f'sandbox = false\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/gw.db"\n')
    first, second = (
        ServedGateway(
            port,
            {"PAYGATE_CONFIG": str(config), "PAYGATE_SERVER__PORT": str(port)},
            tmp_path,
            app_id="-",
            secret="-",
            ops_token="-",
        )
        for port in (free_port(), free_port())
    )
    first.start()
    try:
        import subprocess
        import sys

        refused = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=second.env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.returncode == 2
        assert "SQLite serves one gateway process per file" in refused.stderr
    finally:
        first.stop()

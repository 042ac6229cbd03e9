"""The gateway as a user runs it: `paygate serve` on SQLite, signed calls, a restart, a webhook."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from paygate_testkit import DEMO_TOKENS, ServedGateway, free_port

from core.operators.model import Role

SECRET = "e2e-secret-0123456789"


def served_gateway(tmp_path: Path, notify_port: int) -> ServedGateway:
    port = free_port()
    config = tmp_path / "paygate.toml"
    config.write_text(
        f'[server]\nport = {port}\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/gw.db"\n'
        f'[apps.e2e]\nsecret = "{SECRET}"\nnotify_url = "http://127.0.0.1:{notify_port}/hook"\n'
        "[ops]\ndemo_operators = true\n[notify]\npoll_interval_seconds = 0.1\n"
        '[[routing.rules]]\npay_method = "transfer"\nchannel = "internal_transfer"\n'
    )
    return ServedGateway(
        port,
        {"PAYGATE_CONFIG": str(config)},
        tmp_path,
        app_id="e2e",
        secret=SECRET,
        ops_token=DEMO_TOKENS[Role.FINANCE],
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServedGateway, int]]:
    notify_port = free_port()
    gw = served_gateway(tmp_path, notify_port)
    yield gw, notify_port
    gw.stop()


async def test_transfer_restart_and_webhook(served: tuple[ServedGateway, int]) -> None:
    gw, notify_port = served
    gw.start()
    async with aiohttp.ClientSession() as s:
        _, alice = await gw.call(
            s, "POST", "/v1/accounts", {"owner": "alice", "kind": "C", "currency": "CNY"}
        )
        _, bob = await gw.call(s, "POST", "/v1/accounts", {"owner": "bob", "kind": "C", "currency": "CNY"})
        status, _ = await gw.call(
            s,
            "POST",
            f"/ops/accounts/{alice['id']}/fund",
            {"out_request_no": "f1", "amount": "100.00", "currency": "CNY"},
        )
        assert status == 201
        status, payment = await gw.call(
            s,
            "POST",
            "/v1/payments",
            {
                "out_request_no": "e2e-1",
                "pay_method": "transfer",
                "amount": "30.00",
                "currency": "CNY",
                "payer_account": alice["id"],
                "payee_account": bob["id"],
            },
        )
        assert status == 201 and payment["status"] == "succeeded"
    gw.stop()  # the webhook receiver was down: the notification is still pending

    arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await arrived.put(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", notify_port).start()
    try:
        gw.start()
        event = await asyncio.wait_for(arrived.get(), timeout=30)
        assert event["payment"]["id"] == payment["id"]
        async with aiohttp.ClientSession() as s:
            status, again = await gw.call(s, "GET", f"/v1/payments/{payment['id']}")
            assert status == 200 and again["status"] == "succeeded"
            status, account = await gw.call(s, "GET", f"/v1/accounts/{alice['id']}")
            assert account["balance"] == "70.00"
            status, check = await gw.call(s, "GET", "/ops/ledger/check")
            assert check["ok"] is True
    finally:
        await runner.cleanup()

"""The embedded default as shipped: `paygate serve` with the repository's paygate.toml starts the
Alipay payout simulator beside the gateway; a payout is applied, approved, paid there, and its
result reaches the caller's webhook."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web
from paygate_testkit import ServedGateway


async def test_default_config_pays_a_payout_into_the_embedded_alipay_sandbox(
    gateway: ServedGateway, hook_port: int
) -> None:
    arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await arrived.put(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    gateway.start()
    try:
        item = {
            "serial_no": "E2E-PAYOUT-1",
            "order_serial_no": "ORD-9",
            "payee_account": "zhangsan@example.com",
            "amount": "66.60",
            "ext": {"type": 6, "pay_method": 1, "reason": "flight delay advance", "payee_name": "张三"},
        }
        async with aiohttp.ClientSession() as s:
            status, batch = await gateway.call(s, "POST", "/v1/payouts", {"items": [item]})
            assert status == 200 and batch["accepted"] == 1, batch
            payout_id = batch["items"][0]["payout"]["id"]
            status, paid = await gateway.approve_payout(s, payout_id, {"reviewer": "finance"})
            assert status == 200 and paid["status"] == "succeeded", paid
            assert paid["channel"] == "alipay_payout" and paid["channel_ref"]
        event = await asyncio.wait_for(arrived.get(), timeout=30)
        assert (event["event_type"], event["serial_no"]) == ("payout.succeeded", "E2E-PAYOUT-1")
        assert sorted(p.name for p in (gateway.cwd / "keys").iterdir()) == [
            "sandbox_only_alipay_private_key.pem",
            "sandbox_only_alipay_public_key.pem",
            "sandbox_only_app_private_key.pem",
            "sandbox_only_app_public_key.pem",
        ]
    finally:
        await runner.cleanup()

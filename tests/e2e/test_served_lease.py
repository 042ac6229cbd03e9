"""The embedded default as shipped: `paygate serve` with the repository's paygate.toml starts the
Ant Lease simulator beside the gateway; a lease order is synced, the simulated user signs the
contract and the withholding agreement, the workers withhold the due rent, the caller's webhook
hears of it, and the fulfilled order closes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
from aiohttp import web
from paygate_testkit import ServedGateway


async def test_default_config_leases_through_the_embedded_ant_lease_sandbox(
    gateway: ServedGateway, hook_port: int
) -> None:
    arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await arrived.put(await request.json())
        return web.Response(text="ok")

    async def next_event(wanted: str) -> dict[str, Any]:
        while True:
            event = await asyncio.wait_for(arrived.get(), timeout=30)
            if event["event_type"] == wanted:
                return event

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()
    gateway.start()
    sandbox = f"http://127.0.0.1:{gateway.env['PAYGATE_CHANNELS__ANT_LEASE__SANDBOX_PORT']}"
    yesterday = (datetime.now(timezone(timedelta(hours=8))).date() - timedelta(days=1)).isoformat()
    try:
        async with aiohttp.ClientSession() as s:

            async def user_signs(url: str) -> None:
                async with s.post(f"{sandbox}/_sandbox/users/sign", params={"url": url}) as response:
                    assert response.status == 200 and (await response.json())["result"] == "signed"

            body = {
                "out_order_no": "E2E-LEASE-1",
                "buyer_id": "2088102146225135",
                "title": "E2E lease",
                "total_amount": "88.00",
                "period_count": 1,
                "periods": [{"due_date": yesterday, "amount": "88.00"}],
            }
            status, order = await gateway.call(s, "POST", "/v1/lease/orders", body)
            assert status == 201 and order["status"] == "synced", order
            path = f"/v1/lease/orders/{order['id']}"
            status, contract = await gateway.call(
                s, "POST", f"{path}/contract/sign", {"template_id": "TPL_LEASE_STD"}
            )
            assert status == 200, contract
            await user_signs(contract["sign_url"])
            assert (await next_event("lease.contract_signed"))["order"]["id"] == order["id"]
            status, withholding = await gateway.call(s, "POST", f"{path}/withholding/sign", {})
            assert status == 200, withholding
            await user_signs(withholding["sign_url"])
            paid = await next_event("lease.period_paid")
            assert (paid["period"]["no"], paid["period"]["status"]) == (1, "paid")
            status, closed = await gateway.call(s, "POST", f"{path}/close", {"reason": "lease complete"})
            assert status == 200 and closed["closure"]["basis"] == "fulfilled", closed
        assert (await next_event("lease.order_closed"))["order"]["status"] == "closed"
        assert (gateway.cwd / "lease_keys" / "sandbox_only_app_private_key.pem").is_file()
    finally:
        await runner.cleanup()

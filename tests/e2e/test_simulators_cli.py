"""`paygate simulators serve`: the configured channels' simulators in a process of their own,
reached by a gateway started with `sandbox = false`; nothing configured to simulate is an error."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from crash_harness import crash_site
from test_cli import run, write_config


def test_nothing_to_simulate_is_refused(tmp_path: Path) -> None:
    result = run(["simulators", "serve"], write_config(tmp_path))
    assert result.returncode == 2
    assert "no configured channel runs a simulator" in result.stderr


async def test_the_simulators_serve_a_gateway_that_runs_none_of_its_own(tmp_path: Path) -> None:
    site = crash_site(tmp_path)
    try:
        await asyncio.to_thread(site.simulators.start, *site.simulator_ports)
        await asyncio.to_thread(site.start_gateway)
        async with aiohttp.ClientSession() as s:
            item = {
                "serial_no": "SIM-CLI-1",
                "order_serial_no": "ORD-1",
                "payee_account": "zhangsan@example.com",
                "amount": "6.60",
                "ext": {"type": 6, "pay_method": 1, "reason": "separate simulators", "payee_name": "张三"},
            }
            status, batch = await site.gateway.call(s, "POST", "/v1/payouts", {"items": [item]})
            assert status == 200 and batch["accepted"] == 1, batch
            payout_id = batch["items"][0]["payout"]["id"]
            site.gateway_process.kill()  # the simulators live on
            await asyncio.to_thread(site.start_gateway)
            status, paid = await site.gateway.approve_payout(s, payout_id, {"reviewer": "finance"})
            assert status == 200 and paid["status"] == "succeeded", paid
        gateway_log = (tmp_path / "gateway.log").read_text()
        assert "Address already in use" not in gateway_log, "the gateway started no simulator"
    finally:
        site.stop_all()
    assert (
        "paygate simulators serving: SandboxRunner, LeaseSandbox, PayoutSandbox"
        in (tmp_path / "simulators.log").read_text()
    )

"""The embedded default keeps its channels' memory: a payout in flight when the gateway (and the
simulators it runs) is killed with SIGKILL completes after a restart, as against a real channel."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from paygate_testkit import ROOT, ServedGateway, shipped_gateway

FAST_POLLS = "query_schedule_seconds = [1, 1, 1, 1, 1, 1]  # (test) poll the simulator every second\n"


def _fast_polling_config(tmp_path: Path) -> Path:
    """The shipped paygate.toml, with the payout channel polled every second."""
    shipped = (ROOT / "paygate.toml").read_text()
    marker = "[channels.alipay_payout]\n"
    assert marker in shipped
    config = tmp_path / "paygate.toml"
    config.write_text(shipped.replace(marker, marker + FAST_POLLS))
    return config


async def _payout(gateway: ServedGateway, session: aiohttp.ClientSession, payout_id: str) -> dict[str, Any]:
    status, payout = await gateway.call(session, "GET", f"/v1/payouts/{payout_id}")
    assert status == 200, payout
    return dict(payout)


async def test_a_payout_in_flight_completes_after_the_gateway_is_killed_and_restarted(tmp_path: Path) -> None:
    gateway = shipped_gateway(tmp_path, "http://127.0.0.1:9/hook")
    gateway.env["PAYGATE_CONFIG"] = str(_fast_polling_config(tmp_path))
    gateway.start()
    try:
        item = {
            "serial_no": "E2E-RESTART-1",
            "order_serial_no": "ORD-10",
            "payee_account": "dealing.lisi@example.com",  # the simulator says DEALING twice
            "amount": "12.30",
            "ext": {"type": 6, "pay_method": 1, "reason": "flight delay advance", "payee_name": "李四"},
        }
        async with aiohttp.ClientSession() as s:
            status, batch = await gateway.call(s, "POST", "/v1/payouts", {"items": [item]})
            assert status == 200 and batch["accepted"] == 1, batch
            payout_id = batch["items"][0]["payout"]["id"]
            status, paying = await gateway.approve_payout(s, payout_id, {"reviewer": "f"})
            assert status == 200 and paying["status"] == "paying", paying
        gateway.kill()
        assert (tmp_path / "data" / "alipay_payout_sandbox.db").is_file()

        gateway.start()
        async with aiohttp.ClientSession() as s:
            deadline = time.monotonic() + 30
            payout = await _payout(gateway, s, payout_id)
            while payout["status"] == "paying" and time.monotonic() < deadline:
                await asyncio.sleep(0.2)  # the restarted poller asks the restarted simulator
                payout = await _payout(gateway, s, payout_id)
        assert payout["status"] == "succeeded", payout
    finally:
        gateway.stop()

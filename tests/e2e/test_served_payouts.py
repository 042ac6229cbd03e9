"""The embedded default as shipped: `paygate serve` with the repository's paygate.toml starts the
Alipay payout simulator beside the gateway; a payout is applied, approved, paid there, and its
result reaches the caller's webhook."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.auth import signed_headers

ROOT = Path(__file__).parents[2]
# the demo app and operator token of the shipped paygate.toml
APP, SECRET, OPS = "demo", "demo-secret-change-me", "demo-ops-token-change-me"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    def __init__(self, tmp_path: Path, hook_url: str) -> None:
        self.port = free_port()
        self.tmp_path = tmp_path
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
        # the shipped file, moved to free ports and a private folder
        self.env.update(
            {
                "PAYGATE_CONFIG": str(ROOT / "paygate.toml"),
                "PAYGATE_SERVER__PORT": str(self.port),
                "PAYGATE_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/gw.db",
                "PAYGATE_APPS__DEMO__NOTIFY_URL": hook_url,
                "PAYGATE_NOTIFY__POLL_INTERVAL_SECONDS": "0.1",
                "PAYGATE_CHANNELS__ALIPAY_PAYOUT__SANDBOX_PORT": str(free_port()),
                "PAYGATE_CHANNELS__ALIPAY_PAYOUT__SANDBOX_KEYS_DIR": str(tmp_path / "keys"),
                "PAYGATE_CHANNELS__ALIPAY_PAYOUT__NOTIFY_URL": (
                    f"http://127.0.0.1:{self.port}/callbacks/alipay_payout"
                ),
            }
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=self.env,
            cwd=self.tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode() if self.proc.stderr else ""
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)  # readiness poll of a child process, bounded by the deadline
        raise AssertionError("gateway did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    async def call(
        self, session: aiohttp.ClientSession, method: str, path: str, payload: Any = None
    ) -> tuple[int, Any]:
        body = b"" if payload is None else json.dumps(payload).encode()
        if path.startswith("/ops"):
            headers = {"Authorization": f"Bearer {OPS}"}
        else:
            headers = signed_headers(
                APP, SECRET, method, path, body, timestamp=int(time.time()), nonce=uuid.uuid4().hex
            )
        async with session.request(
            method, f"http://127.0.0.1:{self.port}{path}", data=body, headers=headers
        ) as response:
            return response.status, await response.json()


@pytest.fixture
def hook_port() -> int:
    return free_port()


@pytest.fixture
def gateway(tmp_path: Path, hook_port: int) -> Iterator[Gateway]:
    gw = Gateway(tmp_path, f"http://127.0.0.1:{hook_port}/hook")
    yield gw
    gw.stop()


async def test_default_config_pays_a_payout_into_the_embedded_alipay_sandbox(
    gateway: Gateway, hook_port: int
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
            status, paid = await gateway.call(
                s, "POST", f"/ops/payouts/{payout_id}/approve", {"reviewer": "finance"}
            )
            assert status == 200 and paid["status"] == "succeeded", paid
            assert paid["channel"] == "alipay_payout" and paid["channel_ref"]
        event = await asyncio.wait_for(arrived.get(), timeout=30)
        assert (event["event_type"], event["serial_no"]) == ("payout.succeeded", "E2E-PAYOUT-1")
        assert sorted(p.name for p in (gateway.tmp_path / "keys").iterdir()) == [
            "sandbox_only_alipay_private_key.pem",
            "sandbox_only_alipay_public_key.pem",
            "sandbox_only_app_private_key.pem",
            "sandbox_only_app_public_key.pem",
        ]
    finally:
        await runner.cleanup()

"""The gateway as a user runs it: `paygate serve` on SQLite, signed calls, a restart, a webhook."""

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

SECRET = "e2e-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, tmp_path: Path, notify_port: int) -> None:
        self.port = free_port()
        self.config = tmp_path / "paygate.toml"
        self.config.write_text(
            f'[server]\nport = {self.port}\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/gw.db"\n'
            f'[apps.e2e]\nsecret = "{SECRET}"\nnotify_url = "http://127.0.0.1:{notify_port}/hook"\n'
            '[ops]\ntokens = ["e2e-ops-token"]\n[notify]\npoll_interval_seconds = 0.1\n'
            '[[routing.rules]]\npay_method = "transfer"\nchannel = "internal_transfer"\n'
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
        env["PAYGATE_CONFIG"] = str(self.config)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (
                self.proc.stderr.read().decode() if self.proc.stderr else ""
            )
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
            headers = {"Authorization": "Bearer e2e-ops-token"}
        else:
            headers = signed_headers(
                "e2e",
                SECRET,
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


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, int]]:
    notify_port = free_port()
    gw = Served(tmp_path, notify_port)
    yield gw, notify_port
    gw.stop()


async def test_transfer_restart_and_webhook(served: tuple[Served, int]) -> None:
    gw, notify_port = served
    gw.start()
    async with aiohttp.ClientSession() as s:
        _, alice = await gw.call(
            s, "POST", "/v1/accounts", {"owner": "alice", "kind": "C", "currency": "CNY"}
        )
        _, bob = await gw.call(
            s, "POST", "/v1/accounts", {"owner": "bob", "kind": "C", "currency": "CNY"}
        )
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

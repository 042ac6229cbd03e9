"""What the console's browser tests share: the served gateway (`serve`: `paygate serve` on the
shipped configuration, with a few settings changed where a test module needs it) with its
seeded payout and failed bank bill (conftest.py starts it), and API calls beside the browser."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from paygate_testkit import ROOT, ServedGateway, shipped_gateway

CHROMIUM = "/usr/bin/chromium"

CARD_REJECTED = "6222020000002002"  # the SPDB simulator rejects the 8801 payment (B2E0005)


@dataclass
class Served:
    """The running gateway and what the tests act on."""

    gw: ServedGateway
    base: str
    payout_id: str
    failed_bill_id: str
    shots: Path

    def ops(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        """An /ops or /v1 call as the API would take it (the demo finance token, the demo app)."""

        async def call() -> tuple[int, Any]:
            async with aiohttp.ClientSession() as s:
                return await self.gw.call(s, method, path, payload)

        # Playwright's sync API runs an event loop in this thread: the call gets its own thread
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, call()).result()


def need_a_browser() -> None:
    """Skip, with what to install, where Playwright or the browser is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:  # pragma: no cover - the test extra installs it
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium (see .ci/run)")


@contextlib.contextmanager
def serve(
    tmp: Path, settings: dict[str, str] | None = None, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """`paygate serve` on the shipped paygate.toml, each `settings` line added under its table
    header (e.g. "[channels.alipay_payout]": "query_schedule_seconds = [1]"), `env` added."""
    gw = shipped_gateway(tmp, "http://127.0.0.1:9/hook")  # no receiver: webhooks keep failing
    if settings:
        text = (ROOT / "paygate.toml").read_text()
        for table, line in settings.items():
            assert f"{table}\n" in text, table
            text = text.replace(f"{table}\n", f"{table}\n{line}\n")
        (tmp / "paygate.toml").write_text(text)
        gw.env["PAYGATE_CONFIG"] = str(tmp / "paygate.toml")
    gw.env.update(env or {})
    gw.start()
    try:
        served = Served(gw, f"http://127.0.0.1:{gw.port}", "", "", tmp / "screenshots")
        served.shots.mkdir()
        yield served
    finally:
        gw.stop()


def seed(served: Served) -> None:
    item = {
        "serial_no": f"E2E-CONSOLE-{uuid.uuid4().hex[:8]}",
        "order_serial_no": "ORD-1",
        "payee_account": "zhangsan@example.com",
        "amount": "88.80",
        "ext": {"type": 6, "pay_method": 1, "reason": "航班延误垫付", "payee_name": "张三"},
    }
    status, batch = served.ops("POST", "/v1/payouts", {"items": [item]})
    assert status == 200 and batch["accepted"] == 1, batch
    served.payout_id = batch["items"][0]["payout"]["id"]
    card = {"card_no": CARD_REJECTED, "name": "李四", "bank_name": "浦发银行上海分行"}
    status, account = served.ops(
        "POST", "/v1/accounts", {"kind": "C", "owner": "李四", "currency": "CNY", "bank_card": card}
    )
    assert status == 201, account
    code = f"JK-{uuid.uuid4().hex[:10]}"
    loan = {"bill_code": code, "pay_mode": "bank", "applicant_account": account["id"], "amount": "250.00"}
    loan["currency"] = "CNY"
    status, bill = served.ops("POST", "/v1/bills/loans", loan)
    assert status == 201 and bill["status"] == "bank_submitted", bill
    # the bank call runs in the send worker: wait (bounded) for the simulator's refusal
    for _ in range(150):
        status, bill = served.ops("GET", f"/v1/bills/{bill['id']}")
        if bill["status"] == "bank_failed":
            break
        time.sleep(0.1)  # polling a child process's state, bounded by the loop
    assert bill["status"] == "bank_failed", bill
    served.failed_bill_id = bill["id"]

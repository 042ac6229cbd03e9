"""A verified channel callback moves only a payment of the channel it was verified for, and
only when its amount matches: notices signed with one channel's key about another channel's
payment, or stating another amount, are acknowledged, logged, counted and not applied; a
notice about a payment the platform does not know is acknowledged with `success`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from dependency_injector import providers
from paygate_testkit import APP_ID, APP_SECRET, SignedClient, make_settings

from core.ids import utcnow
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from plugins.alipay_openapi.client import encode_biz_content
from plugins.alipay_openapi.notify import sign_notification
from plugins.alipay_openapi.sandbox_keys import ALIPAY_PUBLIC_KEY_FILE, APP_PRIVATE_KEY_FILE, SandboxKeys
from plugins.alipay_openapi.sandbox_keys import load_sandbox_keys as load_lease_keys
from plugins.alipay_payout.client import ORDER_CHANGED_METHOD
from plugins.alipay_payout.sandbox import SANDBOX_APP_ID as PAYOUT_APP_ID
from plugins.alipay_payout.sandbox import load_sandbox_keys as load_payout_keys
from plugins.ant_lease.client import TRADE_STATUS_SYNC
from plugins.ant_lease.settings import SANDBOX_APP_ID as LEASE_APP_ID

CASSETTES = Path(__file__).parents[2] / "cassettes"
PAYOUT_KEYS = CASSETTES / "alipay_payout" / "keys"
LEASE_KEYS = CASSETTES / "ant_lease" / "keys"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
UNREACHABLE = "http://127.0.0.1:9/gateway.do"  # no test here calls a channel


@dataclass
class Env:
    api: SignedClient
    container: Any
    payout_keys: SandboxKeys
    lease_keys: SandboxKeys

    async def stored(self, channel: str, amount: str = "1.00") -> Payment:
        """A payment of `channel` the channel is still working on, as submit leaves it."""
        now = utcnow()
        payment = Payment(
            f"pay_{uuid.uuid4().hex[:16]}",
            APP_ID,
            f"r-{uuid.uuid4().hex[:8]}",
            "h",
            "alipay" if channel == "alipay_payout" else "bank",
            channel,
            Money.parse(amount, "CNY"),
            None,
            "zhangsan@example.com",
            PaymentStatus.PROCESSING,
            now,
            now,
        )
        async with self.container.uow() as uow:
            await uow.payments.add(payment)
            await uow.commit()
        return payment

    async def status(self, payment_id: str) -> str:
        code, body = await self.api.get(f"/v1/payments/{payment_id}")
        assert code == 200, body
        return str(body["status"])

    async def callback(self, channel: str, fields: dict[str, str], keys: SandboxKeys) -> tuple[int, str]:
        body = urlencode(sign_notification(fields, keys.alipay_private_key)).encode()
        response = await self.api.client.post(f"/callbacks/{channel}", data=body, headers=FORM)
        return response.status, await response.text()

    async def refusals(self, channel: str, reason: str) -> float:
        response = await self.api.client.get("/metrics")
        text = await response.text()
        line = f'paygate_callbacks_refused_total{{channel="{channel}",reason="{reason}"}}'
        return sum(float(row.split()[-1]) for row in text.splitlines() if row.startswith(line))


def order_changed(payment_id: str, trans_amount: str, status: str = "SUCCESS") -> dict[str, str]:
    """An `alipay.fund.trans.order.changed` message of the payout channel's app."""
    biz = {
        "out_biz_no": payment_id,
        "order_id": "20261204110070000006",
        "pay_fund_order_id": "20261204110070001506",
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "status": status,
        "action_type": "FINISH",
        "trans_amount": trans_amount,
    }
    return {
        "app_id": PAYOUT_APP_ID,
        "charset": "utf-8",
        "msg_method": ORDER_CHANGED_METHOD,
        "notify_id": f"n{uuid.uuid4().hex}",
        "utc_timestamp": str(int(utcnow().timestamp() * 1000)),
        "version": "1.1",
        "biz_content": encode_biz_content(biz),
    }


def trade_status_sync(payment_id: str, total_amount: str) -> dict[str, str]:
    """A deduction's trade_status_sync of the Ant Lease channel's app."""
    return {
        "app_id": LEASE_APP_ID,
        "charset": "utf-8",
        "notify_id": f"n{uuid.uuid4().hex}",
        "notify_time": "2026-12-04 15:00:00",
        "notify_type": TRADE_STATUS_SYNC,
        "version": "1.0",
        "out_trade_no": payment_id,
        "trade_no": "2026120422001400001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": total_amount,
    }


def openapi(app_id: str, keys_dir: Path) -> dict[str, Any]:
    return {
        "gateway_url": UNREACHABLE,
        "app_id": app_id,
        "app_private_key": (keys_dir / APP_PRIVATE_KEY_FILE).read_text(),
        "alipay_public_key": (keys_dir / ALIPAY_PUBLIC_KEY_FILE).read_text(),
        "timeout_seconds": 1,
    }


@pytest.fixture
async def env(aiohttp_client: Any, database_url: str) -> AsyncIterator[Env]:
    from gateway.app import create_app
    from gateway.container import Container

    settings = make_settings(
        database_url,
        apps={APP_ID: {"secret": APP_SECRET}},
        channels={
            "alipay_payout": {"openapi": openapi(PAYOUT_APP_ID, PAYOUT_KEYS)},
            "ant_lease": {
                "openapi": openapi(LEASE_APP_ID, LEASE_KEYS),
                "seal_signer_name": "测试出租方签署人",
                "seal_signer_cert_number": "110101199001010011",
            },
        },
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    client = await aiohttp_client(create_app(container))
    yield Env(
        SignedClient(client),
        container,
        load_payout_keys(PAYOUT_KEYS),
        load_lease_keys(LEASE_KEYS, LEASE_APP_ID),
    )


async def test_a_lease_notice_about_a_payout_payment_is_acknowledged_and_not_applied(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    payout = await env.stored("alipay_payout")
    with caplog.at_level(logging.WARNING, logger="paygate.payments"):
        answer = await env.callback("ant_lease", trade_status_sync(payout.id, "1.00"), env.lease_keys)
    assert answer == (200, "success"), "verified: the channel need not repeat it"
    assert await env.status(payout.id) == "processing"
    assert any("alipay_payout" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert await env.refusals("ant_lease", "other_channel") == 1
    code, flow = await env.api.get(f"/v1/payments/{payout.id}/flow")
    assert code == 200, flow
    assert any("refused" in str(node.get("message", "")) for node in flow["flow"]), flow


async def test_a_payout_notice_about_a_bill_payment_is_not_applied(env: Env) -> None:
    bill_payment = await env.stored("spdb")
    answer = await env.callback("alipay_payout", order_changed(bill_payment.id, "1.00"), env.payout_keys)
    assert answer == (200, "success")
    assert await env.status(bill_payment.id) == "processing"
    assert await env.refusals("alipay_payout", "other_channel") == 1


async def test_a_payout_notice_stating_another_amount_is_refused_and_logged(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    payout = await env.stored("alipay_payout", "1.00")
    with caplog.at_level(logging.WARNING, logger="paygate.payments"):
        answer = await env.callback("alipay_payout", order_changed(payout.id, "999.00"), env.payout_keys)
    assert answer == (200, "success")
    assert await env.status(payout.id) == "processing"
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "paygate.payments"]
    assert "999.00" in warning.getMessage() and "1.00" in warning.getMessage()
    assert await env.refusals("alipay_payout", "amount_mismatch") == 1


async def test_a_notice_about_an_unknown_payment_is_acknowledged_and_logged(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="paygate.payments"):
        answer = await env.callback("alipay_payout", order_changed("pay_nobody", "1.00"), env.payout_keys)
    assert answer == (200, "success"), "Alipay stops retrying only on `success`"
    assert any("pay_nobody" in str(getattr(r, "payment_id", "")) for r in caplog.records)
    assert await env.refusals("alipay_payout", "unknown_payment") == 1


async def test_matching_notices_of_their_own_channel_still_apply(env: Env) -> None:
    payout = await env.stored("alipay_payout", "12.30")
    deduction = await env.stored("ant_lease", "300.00")
    assert await env.callback("alipay_payout", order_changed(payout.id, "12.30"), env.payout_keys) == (
        200,
        "success",
    )
    assert await env.callback("ant_lease", trade_status_sync(deduction.id, "300.00"), env.lease_keys) == (
        200,
        "success",
    )
    assert await env.status(payout.id) == "succeeded"
    assert await env.status(deduction.id) == "succeeded"
    assert await env.refusals("alipay_payout", "amount_mismatch") == 0

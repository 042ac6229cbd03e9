"""A caller app's own POST /v1/payments reaches only the channels open to callers: Alipay payouts,
the SPDB bank and Ant Lease withholding pay for their workflows (review, bill, lease) only. A
refused payment is stored nowhere and never reaches the channel's simulator. Per-app
`pay_methods` narrow what an app may pay directly; /v1/routes/explain says why."""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from dependency_injector import providers
from paygate_testkit import APP_ID, APP_SECRET, OTHER_APP, OTHER_SECRET, SignedClient, make_settings

from plugins.alipay_openapi.sandbox import SANDBOX_GATEWAY
from plugins.alipay_openapi.sandbox_keys import ALIPAY_PUBLIC_KEY_FILE, APP_PRIVATE_KEY_FILE
from plugins.alipay_openapi.sandbox_keys import load_sandbox_keys as load_lease_keys
from plugins.alipay_payout.sandbox import SANDBOX_APP_ID as PAYOUT_APP_ID
from plugins.alipay_payout.sandbox import PayoutSimulator, create_payout_sandbox_app, load_sandbox_keys
from plugins.ant_lease.sandbox import LeaseSimulator, create_lease_sandbox_app
from plugins.ant_lease.settings import SANDBOX_APP_ID as LEASE_APP_ID
from plugins.spdb.sandbox import SpdbSandbox

ROOT = Path(__file__).parents[2]
PAYOUT_KEYS = ROOT / "cassettes" / "alipay_payout" / "keys"
LEASE_KEYS = ROOT / "cassettes" / "ant_lease" / "keys"
BANK = {"main_bank": "中国工商银行", "province": "江苏省", "city": "苏州市", "branch": "苏州分行"}

SHIPPED_RULES = tomllib.loads((ROOT / "paygate.toml").read_text())["routing"]["rules"]
# the same ways without `submitters`: the channels' own default (workflows only) must hold
PLAIN_RULES = [{k: v for k, v in r.items() if k != "submitters"} for r in SHIPPED_RULES]


@dataclass
class Env:
    api: SignedClient
    transfer_only_app: SignedClient  # OTHER_APP: pay_methods = ["bank"], so no transfer
    servers: dict[str, TestServer]
    spdb: SpdbSandbox

    def simulator_calls(self) -> dict[str, int]:
        """What each channel's simulator received, from its own records."""
        return {
            "alipay_payout": len(self.servers["alipay_payout"].app[SANDBOX_GATEWAY].calls),
            "ant_lease": len(self.servers["ant_lease"].app[SANDBOX_GATEWAY].calls),
            "spdb": len(self.spdb.payments),
        }


def openapi(server: TestServer, keys: Path, app_id: str) -> dict[str, Any]:
    return {
        "gateway_url": str(server.make_url("/gateway.do")),
        "app_id": app_id,
        "app_private_key": (keys / APP_PRIVATE_KEY_FILE).read_text(),
        "alipay_public_key": (keys / ALIPAY_PUBLIC_KEY_FILE).read_text(),
        "timeout_seconds": 5,
    }


@pytest.fixture(params=["shipped rules", "channel defaults"])
async def env(request: Any, aiohttp_client: Any, database_url: str) -> AsyncIterator[Env]:
    from gateway.app import create_app
    from gateway.container import Container

    payout = TestServer(create_payout_sandbox_app(PayoutSimulator(load_sandbox_keys(PAYOUT_KEYS))))
    lease = TestServer(create_lease_sandbox_app(LeaseSimulator(load_lease_keys(LEASE_KEYS, LEASE_APP_ID))))
    spdb = SpdbSandbox()
    bank = TestServer(spdb.create_app())
    for server in (payout, lease, bank):
        await server.start_server()
    bank_url = str(bank.make_url("")).rstrip("/")
    settings = make_settings(
        database_url,
        apps={
            APP_ID: {"secret": APP_SECRET},
            OTHER_APP: {"secret": OTHER_SECRET, "pay_methods": ["bank"]},
        },
        routing={"rules": SHIPPED_RULES if request.param == "shipped rules" else PLAIN_RULES},
        channels={
            "alipay_payout": {"openapi": openapi(payout, PAYOUT_KEYS, PAYOUT_APP_ID)},
            "ant_lease": {
                "openapi": openapi(lease, LEASE_KEYS, LEASE_APP_ID),
                "seal_signer_name": "测试出租方签署人",
                "seal_signer_cert_number": "110101199001010011",
            },
            "spdb": {
                "front_machine_url": f"{bank_url}/front",
                "signing_server_url": f"{bank_url}/signer",
                "sandbox": False,
            },
        },
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    api = SignedClient(await aiohttp_client(create_app(container)))
    yield Env(api, api.as_app(OTHER_APP, OTHER_SECRET), {"alipay_payout": payout, "ant_lease": lease}, spdb)
    for server in (payout, lease, bank):
        await server.close()


def payment(pay_method: str, **changes: Any) -> dict[str, Any]:
    return {
        "out_request_no": f"direct-{uuid.uuid4().hex[:12]}",
        "pay_method": pay_method,
        "amount": "12.30",
        "currency": "CNY",
        "payee_account": "6222020000000001",
        **changes,
    }


DIRECT_TO_WORKFLOW_CHANNELS = [
    payment("alipay", payee_account="zhangsan@example.com"),
    payment("alipay", business_type="payout"),
    payment("bank"),
    payment("bank", business_type="payout"),
    payment("bank", business_type="bill"),
    payment("withholding", payer_account="2088000000000001"),
]


@pytest.mark.parametrize(
    "body",
    DIRECT_TO_WORKFLOW_CHANNELS,
    ids=lambda b: f"{b['pay_method']}-{b.get('business_type', 'any')}",
)
async def test_a_caller_cannot_pay_through_a_workflow_channel(env: Env, body: dict[str, Any]) -> None:
    status, answer = await env.api.post("/v1/payments", body)
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (
        403,
        "PAY_METHOD_NOT_ALLOWED",
        "pay_method",
    ), answer
    status, _ = await env.api.get(f"/v1/payments?out_request_no={body['out_request_no']}")
    assert status == 404  # nothing stored
    assert env.simulator_calls() == {"alipay_payout": 0, "ant_lease": 0, "spdb": 0}
    # the same number again is refused again: no first result was kept
    status, answer = await env.api.post("/v1/payments", body)
    assert (status, answer["error"]["code"]) == (403, "PAY_METHOD_NOT_ALLOWED")


async def test_explain_says_which_rules_refuse_the_caller(env: Env) -> None:
    status, answer = await env.api.post(
        "/v1/routes/explain", {"pay_method": "alipay", "amount": "1.00", "currency": "CNY"}
    )
    assert (status, answer["error"]["code"]) == (403, "PAY_METHOD_NOT_ALLOWED")
    assert "alipay payouts" in answer["error"]["message"]
    assert "not open to callers" in answer["error"]["message"]
    status, answer = await env.api.post(
        "/v1/routes/explain", {"pay_method": "bank", "amount": "1.00", "currency": "USD"}
    )
    assert (status, answer["error"]["code"]) == (422, "NO_ROUTE")  # SPDB pays CNY only


async def test_callers_still_transfer(env: Env) -> None:
    payer = await env.api.open_account(kind="C")
    payee = await env.api.open_account(kind="B")
    await env.api.fund(payer, "50.00")
    status, body = await env.api.post(
        "/v1/payments", payment("transfer", payer_account=payer, payee_account=payee)
    )
    assert (status, body["status"], body["channel"]) == (201, "succeeded", "internal_transfer"), body
    status, answer = await env.api.post(
        "/v1/routes/explain", {"pay_method": "transfer", "amount": "1.00", "currency": "CNY"}
    )
    assert (status, answer["channel"]) == (200, "internal_transfer")
    assert "callers" in answer["rule"]["submitters"]


async def test_an_app_whose_pay_methods_exclude_transfer_is_refused(env: Env) -> None:
    payer = await env.transfer_only_app.open_account(kind="C")
    payee = await env.transfer_only_app.open_account(kind="B")
    body = payment("transfer", payer_account=payer, payee_account=payee)
    status, answer = await env.transfer_only_app.post("/v1/payments", body)
    assert (status, answer["error"]["code"]) == (403, "PAY_METHOD_NOT_ALLOWED"), answer
    assert "may not pay with 'transfer'" in answer["error"]["message"]
    status, _ = await env.transfer_only_app.get(f"/v1/payments?out_request_no={body['out_request_no']}")
    assert status == 404
    status, answer = await env.transfer_only_app.post(
        "/v1/routes/explain", {"pay_method": "transfer", "amount": "1.00", "currency": "CNY"}
    )
    assert (status, answer["error"]["code"]) == (403, "PAY_METHOD_NOT_ALLOWED")
    assert "its pay_methods: bank" in answer["error"]["message"]

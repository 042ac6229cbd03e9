"""Alipay's official Python SDK as a client of both Alipay simulators: its DefaultAlipayClient
sends every call and verifies every answer's signature itself (it raises when one does not
verify), so the simulators sign what Alipay signs, the way Alipay signs it."""

from __future__ import annotations

import asyncio
import http.client
import importlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from plugins.alipay_openapi.sandbox_keys import APP_PRIVATE_KEY_FILE, load_sandbox_keys
from plugins.alipay_openapi.signing import load_private_key, private_key_pem, public_key_pem
from plugins.alipay_payout.client import QUERY_METHOD, TRANSFER_METHOD, IdentityType, Payee, TransferOrder
from plugins.alipay_payout.sandbox import PayoutSandbox
from plugins.alipay_payout.simulator import SANDBOX_APP_ID as PAYOUT_APP_ID
from plugins.ant_lease import client as lease
from plugins.ant_lease.sandbox import LeaseSandbox
from plugins.ant_lease.settings import SANDBOX_APP_ID as LEASE_APP_ID

web_utils = pytest.importorskip("alipay.aop.api.util.WebUtils")
sdk_client_module = pytest.importorskip("alipay.aop.api.DefaultAlipayClient")
sdk_config_module = pytest.importorskip("alipay.aop.api.AlipayClientConfig")
sdk_errors = pytest.importorskip("alipay.aop.api.exception.Exception")
file_item_module = pytest.importorskip("alipay.aop.api.FileItem")

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"
BUYER = "2088102146225135"


def camel(method: str) -> str:
    return "".join(part.capitalize() for part in method.split("."))


def sdk_class(kind: str, method: str) -> Any:
    name = camel(method) + kind
    return getattr(importlib.import_module(f"alipay.aop.api.{kind.lower()}.{name}"), name)


def pem_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))


@pytest.fixture(autouse=True)
def port_honoured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The SDK's transport connects to port 80 or 443 whatever the URL says; the simulators
    listen on a free local port, so this test gives it a connection that honours the port."""

    def connection(url: str, query_string: str, timeout: int) -> tuple[str, http.client.HTTPConnection]:
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
        return f"{parts.path}?{query_string}", conn

    monkeypatch.setattr(web_utils, "get_http_connection", connection)
    yield


class Sdk:
    """The official client configured for one app of a running simulator."""

    def __init__(self, gateway_url: str, app_id: str, keys_dir: Path, alipay_public_pem: str) -> None:
        config = sdk_config_module.AlipayClientConfig()
        config.server_url = gateway_url
        config.app_id = app_id
        app_key = load_private_key((keys_dir / APP_PRIVATE_KEY_FILE).read_text())
        config.app_private_key = pem_body(private_key_pem(app_key, pkcs1=True))
        config.alipay_public_key = pem_body(alipay_public_pem)
        self.client = sdk_client_module.DefaultAlipayClient(config, logging.getLogger("alipay_sdk"))

    async def call(self, method: str, biz: dict[str, Any]) -> Any:
        """Send `method` with the SDK; the parsed response, after the SDK verified its signature."""
        request = sdk_class("Request", method)()
        request.biz_content = biz
        return await self.send(method, request)

    async def send(self, method: str, request: Any) -> Any:
        """Send an SDK request object (its parameters set by the caller); the parsed response."""
        content = await asyncio.to_thread(self.client.execute, request)
        response = sdk_class("Response", method)()
        response.parse_response_content(content)
        return response


@pytest.fixture
async def payout() -> AsyncIterator[tuple[Sdk, PayoutSandbox]]:
    keys_dir = CASSETTES / "alipay_payout" / "keys"
    keys = load_sandbox_keys(keys_dir, PAYOUT_APP_ID)
    sandbox = PayoutSandbox(keys)
    await sandbox.start()
    try:
        yield (
            Sdk(sandbox.gateway_url, PAYOUT_APP_ID, keys_dir, public_key_pem(keys.alipay_public_key)),
            sandbox,
        )
    finally:
        await sandbox.stop()


@pytest.fixture
async def lease_sdk() -> AsyncIterator[tuple[Sdk, LeaseSandbox]]:
    keys_dir = CASSETTES / "ant_lease" / "keys"
    keys = load_sandbox_keys(keys_dir, LEASE_APP_ID)
    sandbox = LeaseSandbox(keys)
    await sandbox.start()
    try:
        yield (
            Sdk(sandbox.gateway_url, LEASE_APP_ID, keys_dir, public_key_pem(keys.alipay_public_key)),
            sandbox,
        )
    finally:
        await sandbox.stop()


async def test_the_sdk_completes_twenty_transfers_and_queries_verifying_every_answer(
    payout: tuple[Sdk, PayoutSandbox],
) -> None:
    sdk, _ = payout
    for n in range(20):
        payee = Payee(f"someone{n}@example.com", IdentityType.ALIPAY_LOGON_ID, name="张三")
        order = TransferOrder(f"SDK-{n}", Decimal("1.23"), payee, "对外支付")
        transferred = await sdk.call(TRANSFER_METHOD, order.to_biz_content())
        assert transferred.is_success() and transferred.out_biz_no == f"SDK-{n}"
        assert transferred.status == "SUCCESS" and transferred.pay_fund_order_id
        queried = await sdk.call(QUERY_METHOD, {"pay_fund_order_id": transferred.pay_fund_order_id})
        assert queried.is_success() and (queried.status, queried.out_biz_no) == ("SUCCESS", f"SDK-{n}")


async def test_the_sdk_refuses_an_answer_signed_with_another_key(payout: tuple[Sdk, PayoutSandbox]) -> None:
    sdk, _ = payout
    payee = Payee("bad_sign@example.com", IdentityType.ALIPAY_LOGON_ID, name="张三")
    with pytest.raises(sdk_errors.ResponseException, match="sign verify failed"):
        await sdk.call(
            TRANSFER_METHOD, TransferOrder("SDK-BAD", Decimal("1.00"), payee, "t").to_biz_content()
        )


async def test_the_sdk_drives_a_lease_order_verifying_every_answer(
    lease_sdk: tuple[Sdk, LeaseSandbox],
) -> None:
    sdk, sandbox = lease_sdk
    product = lease.WithholdingProduct()
    plan = [lease.Installment(1, date(2026, 3, 1), Decimal("99.00"))]
    created = await sdk.call(
        lease.ORDER_CREATE, lease.create_order_biz("lse_sdk", BUYER, "t", "o", Decimal("99.00"), plan)
    )
    assert created.is_success() and created.order_id
    applied = await sdk.call(
        lease.ECSIGN_APPLY,
        lease.ecsign_apply_biz(
            created.order_id, "lse_sdk_TPL_LEASE_STD_1", "TPL_LEASE_STD", ["lessee"], None
        ),
    )
    assert applied.is_success()
    queried = await sdk.call(
        lease.ORDER_QUERY, lease.query_order_biz("lse_sdk", created.order_id, lease.ORDER_FULL_INFO)
    )
    assert queried.is_success() and queried.ec_sign_apply_infos[0].biz_no == "lse_sdk_TPL_LEASE_STD_1"
    sim = sandbox.simulator
    await seal_the_contract(sdk, sandbox, created.order_id, "lse_sdk_TPL_LEASE_STD_1")
    signed = await sim.agreement_page(
        product.page_sign_biz("ext_sdk", BUYER), {"app_id": LEASE_APP_ID, "timestamp": sim._now()}, "confirm"
    )
    agreement = await sdk.call(lease.AGREEMENT_QUERY, product.query_biz("ext_sdk", None))
    assert agreement.is_success() and (agreement.agreement_no, agreement.status) == (
        signed["agreement_no"],
        "NORMAL",
    )
    paid = await sdk.call(
        lease.TRADE_PAY,
        product.deduction_biz(
            "pay_sdk", Decimal("99.00"), "租金", agreement.agreement_no, created.order_id, 1
        ),
    )
    assert paid.is_success() and paid.total_amount == "99.00"
    trade = await sdk.call(lease.TRADE_QUERY, {"out_trade_no": "pay_sdk"})
    assert trade.is_success() and trade.trade_status == "TRADE_SUCCESS"
    for method, biz in [
        (
            lease.PLAN_APPEND,
            lease.cancel_plan_biz("lse_sdk", created.order_id, "LEASE_TO_SALE", "买断", None),
        ),
        (lease.ORDER_CLOSE, lease.close_biz("lse_sdk", created.order_id, "LEASE_TO_SALE", "买断")),
        (lease.AGREEMENT_UNSIGN, product.unsign_biz(agreement.agreement_no, "ext_sdk")),
    ]:
        assert (await sdk.call(method, biz)).is_success(), method


async def seal_the_contract(sdk: Sdk, sandbox: LeaseSandbox, order_id: str, biz_no: str) -> None:
    """The lessee signs; the SDK uploads the signed document (a multipart request through its
    own client) with the lessor's seal parameters, and the simulator seals the contract."""
    assert sandbox.simulator.contract_page(biz_no, "lessee", "confirm")["result"] == "signed"
    queried = await sdk.call(lease.ORDER_QUERY, lease.query_order_biz("lse_sdk", order_id, "contractInfo"))
    file_url = queried.ec_sign_apply_infos[0].contracts[0].file_url
    async with aiohttp.ClientSession() as session, session.get(file_url) as fetched:
        document = await fetched.read()
    area = lease.SignArea(1, 400, 120)
    signer = lease.SealSigner(area, area, "张三", "110101199001010011")
    request = sdk_class("Request", lease.CONTRACT_SEAL)()
    for name, value in lease.seal_sign_params(biz_no, "手机租赁", signer).items():
        setattr(request, name, value)
    request.file_content = file_item_module.FileItem("contract.pdf", document, "application/pdf")

    sealed = await sdk.send(lease.CONTRACT_SEAL, request)

    assert sealed.is_success() and (sealed.biz_no, bool(sealed.sign_flow_id)) == (biz_no, True)
    order = sandbox.simulator.orders["lse_sdk"]
    assert order.contract is not None and (order.contract.status, order.status) == ("SEALED", "RENTING")

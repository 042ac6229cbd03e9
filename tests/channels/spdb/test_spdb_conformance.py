"""The SPDB adapter keeps the port contracts, against the front-machine simulator on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from core.money import Money
from plugins.spdb import SpdbChannelSettings, register_channels
from plugins.spdb.sandbox import SpdbSandbox
from ports.channels import Channel, ChannelServices, PaymentRequest
from ports.conformance import ChannelConformance, ConformanceSubject

PAYEES = {
    "success": "6222020000000001",
    "failure": "6222020000002002",
    "unknown": "6222020000006006",
    # 8801 answers the sandbox makes untrustworthy: unsigned, signed by a rogue key, cut short
    "unsigned": "6222020000007007",
    "bad_signature": "6222020000007008",
    "malformed": "6222020000006006",
    "not_sent": "6222020000000001",
}


class NoAccounts:
    async def get_accounts(self, ids: object) -> dict[str, object]:
        return {}


@pytest.fixture
async def sandbox_url() -> AsyncIterator[str]:
    server = TestServer(SpdbSandbox().create_app(), host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


def build_channel(sandbox_url: str, **settings: object) -> Channel:
    config = {
        "front_machine_url": f"{sandbox_url}/front",
        "signing_server_url": f"{sandbox_url}/signer",
        "timeout_seconds": 5,
        "sandbox": False,
        **settings,
    }
    spdb = {"spdb": SpdbChannelSettings.model_validate(config).model_dump()}
    [channel] = register_channels(settings=spdb, services=ChannelServices(NoAccounts()))
    return channel


class TestSpdbConformance(ChannelConformance):
    @pytest.fixture
    async def subject(self, sandbox_url: str) -> AsyncIterator[ConformanceSubject]:
        channel = build_channel(sandbox_url)

        def request(scenario: str) -> PaymentRequest:
            # "not_sent": no payee name, which the client refuses before signing
            name = "" if scenario == "not_sent" else "张三"
            return PaymentRequest(
                f"pay_{uuid.uuid4().hex[:27]}",
                "app",
                "bank",
                Money.parse("88.00", "CNY"),
                None,
                PAYEES[scenario],
                details={"payee_name": name},
            )

        def channel_at(base_url: str) -> Channel:
            # the front machine moved; the (local) signing server stays the sandbox's
            return build_channel(sandbox_url, front_machine_url=f"{base_url}/front", timeout_seconds=1)

        yield ConformanceSubject(
            channel=channel,
            request=request,
            unverifiable_scenarios=("unsigned", "bad_signature", "malformed"),
            refuses_before_sending=True,
            reports_order_not_found=True,
            channel_at=channel_at,
        )
        assert channel.close is not None
        await channel.close()

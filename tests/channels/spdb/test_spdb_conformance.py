"""The SPDB adapter keeps the port contracts, against the front-machine simulator on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from core.money import Money
from plugins.spdb import SpdbChannelSettings, register_channels
from plugins.spdb.sandbox import SpdbSandbox
from ports.channels import ChannelServices, PaymentRequest
from ports.conformance import ChannelConformance, ConformanceSubject

PAYEES = {
    "success": "6222020000000001",
    "failure": "6222020000002002",
    "unknown": "6222020000006006",
    # 8801 answers the sandbox makes untrustworthy: unsigned, signed by a rogue key, cut short
    "unsigned": "6222020000007007",
    "bad_signature": "6222020000007008",
    "malformed": "6222020000006006",
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


class TestSpdbConformance(ChannelConformance):
    @pytest.fixture
    async def subject(self, sandbox_url: str) -> AsyncIterator[ConformanceSubject]:
        settings = {
            "spdb": SpdbChannelSettings(
                front_machine_url=f"{sandbox_url}/front",
                signing_server_url=f"{sandbox_url}/signer",
                timeout_seconds=5,
                sandbox=False,
            ).model_dump()
        }
        [channel] = register_channels(settings=settings, services=ChannelServices(NoAccounts()))

        def request(scenario: str) -> PaymentRequest:
            return PaymentRequest(
                f"pay_{uuid.uuid4().hex[:27]}",
                "app",
                "bank",
                Money.parse("88.00", "CNY"),
                None,
                PAYEES[scenario],
                details={"payee_name": "张三"},
            )

        yield ConformanceSubject(
            channel=channel,
            request=request,
            unverifiable_scenarios=("unsigned", "bad_signature", "malformed"),
        )
        assert channel.close is not None
        await channel.close()

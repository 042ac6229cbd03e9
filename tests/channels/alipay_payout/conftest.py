"""Fixtures of the Alipay payout channel tests: a client replaying (or recording) cassettes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from alipay_payout_harness import (
    KEYS,
    RECORDING,
    REPLAY_GATEWAY,
    cassette_name,
    payout_vcr,
    sandbox_settings,
)

from plugins.alipay_openapi.client import AlipayClient
from plugins.alipay_payout.sandbox import PayoutSandbox, load_sandbox_keys


@pytest.fixture
async def cassette_client(request: pytest.FixtureRequest) -> AsyncIterator[AlipayClient]:
    """An AlipayClient whose HTTP exchanges replay (or record) this test's cassette."""
    sandbox: PayoutSandbox | None = None
    gateway_url = REPLAY_GATEWAY
    if RECORDING:
        sandbox = PayoutSandbox(load_sandbox_keys(KEYS))
        await sandbox.start()
        gateway_url = sandbox.gateway_url
    try:
        with payout_vcr.use_cassette(cassette_name(request)) as cassette:
            async with aiohttp.ClientSession() as session:
                yield AlipayClient(sandbox_settings(gateway_url), session)
            if not RECORDING:
                assert cassette.all_played, "the test made fewer calls than were recorded"
    finally:
        if sandbox is not None:
            await sandbox.stop()

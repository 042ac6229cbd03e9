"""Fixtures of the Ant Lease channel tests: an adapter replaying (or recording) cassettes, with
a stand-in for the user who opens signing URLs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ant_lease_harness import KEYS, RECORDING, REPLAY_GATEWAY, User, cassette_name, lease_vcr, make_adapter

from plugins.alipay_openapi.sandbox_keys import load_sandbox_keys
from plugins.ant_lease.adapter import AntLeaseAdapter
from plugins.ant_lease.sandbox import LeaseSandbox
from plugins.ant_lease.settings import SANDBOX_APP_ID


@pytest.fixture
async def cassette(request: pytest.FixtureRequest) -> AsyncIterator[tuple[AntLeaseAdapter, User]]:
    """An adapter whose HTTP exchanges replay (or record) this test's cassette, and the user."""
    sandbox: LeaseSandbox | None = None
    gateway_url = REPLAY_GATEWAY
    if RECORDING:
        sandbox = LeaseSandbox(load_sandbox_keys(KEYS, SANDBOX_APP_ID))
        await sandbox.start()
        gateway_url = sandbox.gateway_url
    adapter = make_adapter(gateway_url)
    try:
        with lease_vcr.use_cassette(cassette_name(request)) as recorded:
            yield adapter, User(sandbox)
            await adapter.close()
            if not RECORDING:
                assert recorded.all_played, "the test made fewer calls than were recorded"
    finally:
        await adapter.close()
        if sandbox is not None:
            await sandbox.stop()

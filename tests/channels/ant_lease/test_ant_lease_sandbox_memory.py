"""The lease simulator keeps its memory in a file: after a restart on the same file a deduction
in flight is still known (its query answers and completes it), and so is its agreement."""

from __future__ import annotations

import uuid
from pathlib import Path

from ant_lease_harness import KEYS, SEAL_SIGNER, openapi
from test_ant_lease_adapter import BUYER, NoAccounts, deduction

from plugins.alipay_openapi.sandbox_keys import load_sandbox_keys
from plugins.ant_lease import register_channels
from plugins.ant_lease.adapter import AntLeaseAdapter
from plugins.ant_lease.sandbox import LeaseSandbox, open_signing_url
from plugins.ant_lease.settings import SANDBOX_APP_ID
from plugins.sandbox_store.store import SandboxStore
from ports.channels import ChannelServices, ChannelStatus, SigningRequest
from ports.lease import WITHHOLDING_SIGNING


async def _start(path: Path) -> tuple[LeaseSandbox, AntLeaseAdapter]:
    keys = load_sandbox_keys(KEYS, SANDBOX_APP_ID)
    sandbox = LeaseSandbox(keys, default_notify_url="http://127.0.0.1:9/cb", store=SandboxStore(path))
    await sandbox.start()
    settings = {
        "ant_lease": {"openapi": openapi(sandbox.gateway_url), "query_schedule_seconds": [0], **SEAL_SIGNER}
    }
    [channel] = register_channels(settings=settings, services=ChannelServices(NoAccounts()))
    assert isinstance(channel.payment, AntLeaseAdapter)
    return sandbox, channel.payment


async def _stop(sandbox: LeaseSandbox, adapter: AntLeaseAdapter) -> None:
    await adapter.close()
    await sandbox.stop()
    assert sandbox.store is not None
    sandbox.store.close()


async def test_a_restarted_simulator_completes_a_deduction_in_flight(tmp_path: Path) -> None:
    path = tmp_path / "ant_lease_sandbox.db"
    sandbox, adapter = await _start(path)
    external = f"LSE{uuid.uuid4().hex[:27].upper()}01"
    page = await adapter.start_signing(
        SigningRequest(
            "lse_x", "shop", WITHHOLDING_SIGNING, {"external_agreement_no": external, "buyer_id": BUYER}
        )
    )
    assert page.sign_url
    shown = await open_signing_url(sandbox.app, page.sign_url, "confirm")
    request = deduction(str(shown["agreement_no"]), "10.66")  # processing until one query
    answer = await adapter.submit(request)
    assert answer.status is ChannelStatus.PROCESSING
    await _stop(sandbox, adapter)

    sandbox, adapter = await _start(path)
    try:
        assert external in sandbox.simulator.agreements
        first, second = await adapter.query(request, None), await adapter.query(request, None)
        assert (first.status, second.status) == (ChannelStatus.PROCESSING, ChannelStatus.SUCCEEDED)
        assert second.channel_ref == answer.channel_ref
    finally:
        await _stop(sandbox, adapter)

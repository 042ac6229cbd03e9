"""The payout simulator keeps its memory in a file: a simulator started again on the same file
answers its transfers, continues a dealing one, and still owes the unacknowledged messages."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from alipay_payout_harness import KEYS, sandbox_settings

from plugins.alipay_openapi.client import AlipayClient
from plugins.alipay_payout.client import (
    IdentityType,
    Payee,
    TransferOrder,
    TransferQuery,
    TransferStatus,
    query_transfer,
    transfer,
)
from plugins.alipay_payout.sandbox import PayoutSandbox, load_sandbox_keys
from plugins.sandbox_store.store import SandboxStore


def _order(out_biz_no: str, identity: str, amount: str = "10.00") -> TransferOrder:
    return TransferOrder(
        out_biz_no, Decimal(amount), Payee(identity, IdentityType.ALIPAY_LOGON_ID, "伊万"), "t"
    )


async def _run(path: Path, work: Any) -> Any:
    """Start a simulator on `path`, do `work(client)`, stop it (its process's memory is gone)."""
    sandbox = PayoutSandbox(load_sandbox_keys(KEYS), balance=Decimal("100.00"), store=SandboxStore(path))
    url = await sandbox.start()
    try:
        async with aiohttp.ClientSession() as session:
            return await work(AlipayClient(sandbox_settings(url.rstrip("/") + "/gateway.do"), session))
    finally:
        await sandbox.stop()
        sandbox.simulator.records.store.close()


async def test_a_restarted_simulator_still_knows_a_dealing_payout_and_finishes_it(tmp_path: Path) -> None:
    path = tmp_path / "alipay_payout_sandbox.db"
    order = _order("SB-MEMORY-1", "dealing.judy@example.com")
    first = await _run(path, lambda client: transfer(client, order))
    assert first.status is TransferStatus.DEALING

    async def query_until_final(client: AlipayClient) -> list[TransferStatus]:
        return [(await query_transfer(client, TransferQuery.for_order(order))).status for _ in range(3)]

    statuses = await _run(path, query_until_final)
    assert statuses == [TransferStatus.DEALING, TransferStatus.DEALING, TransferStatus.SUCCESS]

    again = await _run(path, lambda client: query_transfer(client, TransferQuery.for_order(order)))
    assert again.status is TransferStatus.SUCCESS and again.order_id == first.order_id


async def test_a_restarted_simulator_keeps_its_balance_ids_and_undelivered_messages(tmp_path: Path) -> None:
    path = tmp_path / "alipay_payout_sandbox.db"
    first = await _run(
        path, lambda client: transfer(client, _order("SB-MEMORY-2", "ivan@example.com", "30.00"))
    )
    second = await _run(
        path, lambda client: transfer(client, _order("SB-MEMORY-3", "ivan@example.com", "30.00"))
    )
    assert second.order_id != first.order_id, "ids continue, never reused"

    reopened = PayoutSandbox(load_sandbox_keys(KEYS), store=SandboxStore(path)).simulator
    assert reopened.balance == Decimal("40.00")
    assert [t.out_biz_no for t in reopened.pending_notifications] == ["SB-MEMORY-2", "SB-MEMORY-3"]


async def test_without_a_file_the_memory_is_the_process_only() -> None:
    fresh = PayoutSandbox(load_sandbox_keys(KEYS)).simulator
    assert fresh.transfers == {} and fresh.records.store.path == ":memory:"

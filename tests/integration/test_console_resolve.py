"""Resolving an escalated payment through the console's pages (no browser), on SQLite and
PostgreSQL: the proposal's page answers at once (checking), the approvals page shows the state
while the approvals worker is at the channel, then offers the pending proposal to a second
finance operator, whose confirmation (executing) the worker runs: the payout follows."""

from __future__ import annotations

import asyncio
import re

from test_console_pages import csrf_token, log_in
from test_operator_resolve import RESOLVE, World, approval, paying_payout, work
from test_operator_resolve import world as world  # the unanswered channel's gateway

from core.operators.model import Role


async def approvals_page(w: World) -> str:
    page = await w.api.client.get("/console/approvals")
    assert page.status == 200
    return await page.text()


async def test_two_operators_resolve_through_the_console_pages(world: World) -> None:
    payout_id, payment_id = await paying_payout(world)
    await log_in(world.api, "demo-finance")
    world.port.gate.clear()  # the channel does not answer until the test says so
    world.port.asked.clear()
    form = {"decision": "failed", "evidence": RESOLVE["evidence"], "csrf_token": await csrf_token(world.api)}
    answer = await world.api.client.post(f"/console/payments/{payment_id}/resolve", data=form)
    assert answer.status == 200 and "渠道查询中" in await answer.text()
    assert not world.port.asked.is_set(), "the page did not wait on the channel"
    worker = asyncio.create_task(work(world.container))
    await world.port.asked.wait()
    page = await approvals_page(world)
    assert 'class="status-checking"' in page and "/confirm" not in page
    assert "人工确认支付结果" in page and "结论: 失败" in page  # the action and the outcome in Chinese
    world.port.gate.set()
    assert await worker == 1
    page = await approvals_page(world)
    found = re.search(r'action="/console/approvals/([^/"]+)/confirm"', page)
    assert found and 'class="status-pending"' in page, page
    approval_id = found.group(1)

    await world.api.client.post("/console/logout", data={"csrf_token": await csrf_token(world.api)})
    await world.api.as_new_operator(world.container, "fin-2", Role.FINANCE)
    await log_in(world.api, "fin-2", "fin-2-password")
    confirm = f"/console/approvals/{approval_id}/confirm"
    answer = await world.api.client.post(confirm, data={"csrf_token": await csrf_token(world.api)})
    assert answer.status == 200 and "渠道执行中" in await answer.text()
    assert 'class="status-executing"' in await approvals_page(world)
    assert await work(world.container) == 1
    page = await approvals_page(world)
    assert 'class="status-confirmed"' in page and "(fin-2)" in page
    assert (await approval(world.api, approval_id))["status"] == "confirmed"
    status, payout = await world.api.get(f"/ops/payouts/{payout_id}")
    assert payout["status"] == "failed", payout


async def test_a_payout_payments_page_masks_the_payee_account(world: World) -> None:
    """The payment's view shows a payout's payee account as it is (only a bill's bank attempts
    are masked there): the console's page masks it, as the payout's own page does."""
    payout_id, payment_id = await paying_payout(world, escalated=False)
    await log_in(world.api, "demo-viewer")
    page = await (await world.api.client.get(f"/console/payments/{payment_id}")).text()
    assert "zhangsan@example.com" not in page and "z*******@example.com" in page
    payout = await (await world.api.client.get(f"/console/payouts/{payout_id}")).text()
    assert "zhangsan@example.com" not in payout

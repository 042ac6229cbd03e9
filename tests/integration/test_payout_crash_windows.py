"""Payouts through the HTTP app and the Alipay payout simulator, across the crash windows a worker
closes: an approval that never submitted its payment, and a payment saved but never received by
Alipay (sent again under the same out_biz_no, never a new one)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_payouts import Env, applied, approve, current, env, item

from core.payouts.model import Review
from core.usecases.payouts.recovery import PayoutRecovery
from core.usecases.payouts.review import _approve_once
from gateway.storage import tables as t
from plugins.alipay_payout.client import QUERY_METHOD
from ports.channels import OutcomeUnknown, PaymentRequest

__all__ = ["env"]  # the fixture, shared with test_payouts


async def test_an_approval_that_crashed_before_its_payment_is_resumed_once(env: Env) -> None:
    payout = await applied(env.api, item("CRASH-AFTER-APPROVAL"))
    ctx = env.container.payouts().ctx
    # the approval committed, then the process died before submitting the payment
    review = Review("approved", "finance-li", ctx.clock())
    await _approve_once(ctx, payout["id"], review)
    assert (await current(env.api, payout["id"]))["status"] == "approved" and env.sent() == []
    recovery = PayoutRecovery(ctx, resume_after=timedelta(0))
    assert await recovery.run_once(10) == 1
    paid = await current(env.api, payout["id"])
    assert paid["status"] == "succeeded"
    [sent] = env.sent()
    assert sent["out_biz_no"] == paid["payment_id"]
    # resumed once: the next round, and a repeated approval, find its payment
    assert await recovery.run_once(10) == 0
    status, again = await approve(env.api, payout["id"])
    assert status == 200 and again["payment_id"] == paid["payment_id"]
    assert len(env.sent()) == 1 and list(env.simulator.transfers) == [paid["payment_id"]]


async def test_a_payment_alipay_never_received_is_sent_again_with_the_same_out_biz_no(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = env.container.channels()["alipay_payout"].payment

    async def lost_on_the_way(request: PaymentRequest) -> None:
        raise OutcomeUnknown("READ_TIMEOUT", "connection dropped before the request reached Alipay")

    monkeypatch.setattr(adapter, "submit", lost_on_the_way)
    payout = await applied(env.api, item("NEVER-ARRIVED"))
    status, paying = await approve(env.api, payout["id"])
    assert status == 200 and paying["status"] == "paying" and env.sent() == []
    monkeypatch.undo()
    payment_id = (await env.container.payments().submission.storage.by_request_no(
        paying["app_id"], f"payout/{payout['id']}"
    )).id  # fmt: skip
    # before the request's deadline, ORDER_NOT_EXIST is only "not visible yet"
    assert await env.poll() == 1
    assert (await current(env.api, payout["id"]))["status"] == "paying" and env.sent() == []
    assert env.sent(QUERY_METHOD)[-1]["out_biz_no"] == payment_id
    # an hour later the order still does not exist: the request provably never arrived
    an_hour_ago = env.container.clock()() - timedelta(hours=1)
    async with env.container.uow() as uow:
        await uow.conn.execute(
            t.payments.update().where(t.payments.c.id == payment_id).values(created_at=an_hour_ago)
        )
        await uow.commit()
    assert await env.poll() == 1
    paid = await current(env.api, payout["id"])
    assert (paid["status"], paid["payment_id"]) == ("succeeded", payment_id)
    [sent] = env.sent()
    assert sent["out_biz_no"] == payment_id
    assert list(env.simulator.transfers) == [payment_id]  # one order at Alipay
    status, flow = await env.api.get(f"/v1/payments/{payment_id}/flow")
    assert status == 200, flow
    resent = [r for r in flow["flow"] if r["node"] == "channel_request" and r["detail"].get("resent")]
    assert len(resent) == 1

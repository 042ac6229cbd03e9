"""Lease orders through the HTTP API with the Ant Lease simulator (issue 11 items 5 to 7): one
live withholding agreement per order, and a way to `closed` from the states an order can be
left in (a refused pre-order, a plan cancelled for `other`, a signing that never finished)."""

from __future__ import annotations

from test_lease_api import Env, created, current, order_body, signed_up
from test_lease_api import env as env  # noqa: F401  (the fixture)

from plugins.ant_lease.client import AgreementState


async def test_a_late_confirmation_of_a_replaced_signing_is_unsigned_and_never_the_agreement(
    env: Env,
) -> None:
    oid = (await created(env))["id"]
    status, first = await env.api.post(f"/v1/lease/orders/{oid}/withholding/sign")
    assert status == 200, first
    status, second = await env.api.post(f"/v1/lease/orders/{oid}/withholding/sign")
    assert status == 200 and second["sign_url"] != first["sign_url"]
    replaced = first["order"]["agreement"]["external_agreement_no"]
    live = second["order"]["agreement"]["external_agreement_no"]
    assert (await current(env, oid))["agreement"]["sign_url"] == second["sign_url"]

    assert (await env.user(first["sign_url"]))["result"] == "signed"  # the user opens the old URL
    assert all(d.acknowledged for d in await env.deliver())
    order = await current(env, oid)
    assert (order["agreement"]["status"], order["agreement"]["external_agreement_no"]) == ("signing", live)
    assert env.simulator.agreements[replaced].status is AgreementState.UNSIGN, "ended at the channel"

    assert (await env.user(second["sign_url"]))["result"] == "signed"
    await env.deliver()
    order = await current(env, oid)
    assert (order["agreement"]["status"], order["agreement"]["external_agreement_no"]) == ("signed", live)
    assert env.simulator.agreements[live].status is AgreementState.NORMAL


async def test_a_pre_order_the_channel_refused_is_closed_here_alone(env: Env) -> None:
    order = await created(env, order_body(None, buyer_id="2088000000000400"))
    assert order["status"] == "sync_failed"
    status, closed = await env.api.post(f"/v1/lease/orders/{order['id']}/close", {"reason": "refused"})
    assert status == 200 and closed["status"] == "closed"
    assert closed["closure"]["basis"] == "sync_failed"


async def test_a_plan_cancelled_for_other_is_cancelled_again_for_a_return_and_closed(env: Env) -> None:
    oid = (await signed_up(env, order_body(None, ("100.00", 30))))["id"]
    cancel = f"/v1/lease/orders/{oid}/withholding/cancel-plan"
    status, _ = await env.api.post(cancel, {"reason": "other", "note": "用户要求"})
    assert status == 200
    status, again = await env.api.post(cancel, {"reason": "return_success", "note": "已归还"})
    assert status == 200 and (again["plan"]["status"], again["plan"]["cancel_reason"]) == (
        "cancelled",
        "return_success",
    )
    status, closed = await env.api.post(f"/v1/lease/orders/{oid}/close", {"reason": "returned"})
    assert status == 200 and closed["closure"]["basis"] == "return_success"
    status, info = await env.api.get(f"/v1/lease/orders/{oid}/channel-info")
    assert info["info"]["status"] == "CLOSED"

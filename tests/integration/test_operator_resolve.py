"""Resolving an escalated unknown over HTTP (POST /ops/payments/{id}/resolve, then a second
operator's POST /ops/approvals/{id}/confirm), on SQLite and PostgreSQL: the payout and the
rent period owning the payment follow; the proposer cannot confirm; a payment not escalated is
refused; a channel that answers meanwhile wins; of concurrent confirmations one runs; every
step is in the audit log."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from dependency_injector import providers
from paygate_testkit import SignedClient, make_settings
from test_lease_api import Env, current, order_body, signed_up
from test_lease_api import env as env  # the lease API's fixture, with its Ant Lease simulator

from core.operators.model import Role
from ports.channels import Channel, ChannelResult, ChannelServices, ChannelStatus, PaymentRequest
from ports.hookspecs import hookimpl

UNKNOWN = ChannelResult(ChannelStatus.UNKNOWN, code="SYSTEM_ERROR")


class Unanswered:
    """Payment and query ports whose outcome stays unknown until a test sets `answer`."""

    def __init__(self) -> None:
        self.answer = UNKNOWN
        self.queries = 0

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        return ChannelResult(ChannelStatus.PROCESSING, channel_ref="REF-1")

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        self.queries += 1
        return self.answer


class UnansweredPlugin:
    def __init__(self) -> None:
        self.port = Unanswered()

    @hookimpl
    def register_channels(
        self, settings: Mapping[str, Mapping[str, Any]], services: ChannelServices
    ) -> list[Channel]:
        return [
            Channel(
                "unanswered", frozenset({"alipay"}), frozenset({"CNY"}), payment=self.port, query=self.port
            )
        ]


class World:
    def __init__(self, api: SignedClient, plugin: UnansweredPlugin) -> None:
        self.api = api
        self.port = plugin.port
        self.container = api.client.app[_container_key()]

    async def finance(self, login: str) -> SignedClient:
        return await self.api.as_new_operator(self.container, login, Role.FINANCE)


def _container_key() -> Any:
    from gateway.keys import CONTAINER

    return CONTAINER


@pytest.fixture
async def world(aiohttp_client: Any, database_url: str) -> World:
    from gateway.app import create_app
    from gateway.container import Container
    from gateway.plugins import build_plugin_manager

    settings = make_settings(
        database_url,
        routing={"rules": [{"name": "payouts", "pay_method": "alipay", "channel": "unanswered"}]},
    )
    plugin = UnansweredPlugin()
    container = Container()
    container.settings.override(providers.Object(settings))
    container.plugin_manager.override(providers.Object(build_plugin_manager([plugin])))
    return World(SignedClient(await aiohttp_client(create_app(container))), plugin)


async def escalate(container: Any, payment_id: str) -> None:
    """One query at the last step of the payment's query schedule: escalated, still not final."""
    payments = container.payments()
    async with payments.results.storage.reads() as uow:
        payment = await uow.payments.get(payment_id)
    steps = payments.schedule_for(payment.channel).steps
    moved = await payments.resolve(payment, attempts=len(steps) - 1)
    assert moved.status.value in ("processing", "unknown")


async def paying_payout(w: World, *, escalated: bool = True) -> tuple[str, str]:
    item = {
        "serial_no": f"S-{uuid.uuid4().hex[:12]}",
        "order_serial_no": "ORD-1",
        "payee_account": "zhangsan@example.com",
        "amount": "12.30",
        "ext": {"type": 2, "pay_method": 1, "reason": "compensation", "payee_name": "张三"},
    }
    status, batch = await w.api.post("/v1/payouts", {"trace_id": "trace-1", "items": [item]})
    assert status == 200, batch
    payout_id = batch["items"][0]["payout"]["id"]
    status, approved = await w.api.post(f"/ops/payouts/{payout_id}/approve", {})
    assert status == 200, approved
    if escalated:
        await escalate(w.container, approved["payment_id"])
    return payout_id, approved["payment_id"]


RESOLVE = {"decision": "failed", "evidence": "Alipay ticket 2026-88", "note": "no money left the account"}


async def test_two_operators_resolve_and_the_payout_follows(world: World) -> None:
    payout_id, payment_id = await paying_payout(world)
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert status == 202 and proposal["status"] == "pending", proposal
    assert proposal["proposed_by"] == "demo-finance"
    proposer = world.api.as_operator("demo-finance-token-change-me")
    status, own = await proposer.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert (status, own["error"]["code"]) == (403, "SAME_OPERATOR")
    status, pending = await world.api.get("/ops/approvals")
    assert [a["id"] for a in pending["data"]] == [proposal["id"]]

    second = await world.finance("fin-wang")
    status, confirmed = await second.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert status == 200 and confirmed["status"] == "confirmed", confirmed
    assert confirmed["result"]["payment"]["status"] == "failed"
    status, payout = await world.api.get(f"/ops/payouts/{payout_id}")
    assert payout["status"] == "failed", payout

    status, flow = await world.api.get(f"/v1/payments/{payment_id}/flow")
    assert status == 200, flow
    nodes = [n for n in flow["flow"] if n["node"] == "operator_action"]
    assert [n["actor"] for n in nodes] == ["demo-finance", "fin-wang"], nodes
    status, audit = await world.api.get(f"/ops/audit?subject_id={proposal['id']}")
    assert [(e["operator"], e["outcome"]) for e in audit["data"]] == [
        ("fin-wang", "ok"),
        ("demo-finance", "refused:SAME_OPERATOR"),
    ], audit
    status, proposed = await world.api.get(f"/ops/audit?subject_id={payment_id}&action=payments/resolve")
    [entry] = proposed["data"]
    assert (entry["operator"], entry["outcome"], entry["role"]) == ("demo-finance", "proposed", "finance")
    assert "Alipay ticket 2026-88" in entry["note"] and entry["trace_id"]


async def test_a_payment_still_being_queried_is_not_resolved(world: World) -> None:
    _, payment_id = await paying_payout(world, escalated=False)
    status, refused = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert (status, refused["error"]["code"]) == (409, "NOT_ESCALATED")


async def test_a_channel_that_has_answered_wins_over_the_proposal(world: World) -> None:
    payout_id, payment_id = await paying_payout(world)
    world.port.answer = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="REF-9")
    status, refused = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert (status, refused["error"]["code"]) == (409, "CHANNEL_HAS_ANSWERED"), refused
    status, payout = await world.api.get(f"/ops/payouts/{payout_id}")
    assert payout["status"] == "succeeded"
    status, pending = await world.api.get("/ops/approvals")
    assert pending["data"] == []


async def test_concurrent_confirmations_resolve_once(world: World) -> None:
    _, payment_id = await paying_payout(world)
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert status == 202, proposal
    confirmers = [await world.finance(f"fin-{n}") for n in range(3)]
    queries = world.port.queries
    answers = await asyncio.gather(*(c.post(f"/ops/approvals/{proposal['id']}/confirm") for c in confirmers))
    assert sorted(s for s, _ in answers) == [200, 409, 409], answers
    assert world.port.queries == queries + 1, "one confirmation ran the decision"
    status, all_of_them = await world.api.get(f"/ops/approvals?status=any&subject_id={payment_id}")
    [decided] = all_of_them["data"]
    assert decided["status"] == "confirmed"


async def test_a_rejected_proposal_is_never_run(world: World) -> None:
    _, payment_id = await paying_payout(world)
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    second = await world.finance("fin-zhao")
    status, refused = await second.post(f"/ops/approvals/{proposal['id']}/reject", {})
    assert status == 400, refused
    status, rejected = await second.post(
        f"/ops/approvals/{proposal['id']}/reject", {"reason": "wrong ticket"}
    )
    assert status == 200 and rejected["status"] == "rejected", rejected
    status, late = await (await world.finance("fin-sun")).post(f"/ops/approvals/{proposal['id']}/confirm")
    assert (status, late["error"]["code"]) == (409, "APPROVAL_DECIDED")
    status, payment = await world.api.get(f"/v1/payments/{payment_id}")
    assert payment["status"] in ("processing", "unknown")


async def test_a_viewer_cannot_propose_and_an_operator_cannot_confirm(world: World) -> None:
    _, payment_id = await paying_payout(world)
    viewer = await world.api.as_new_operator(world.container, "view-li", Role.VIEWER)
    status, refused = await viewer.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert (status, refused["error"]["code"]) == (403, "ROLE_REQUIRED")
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    clerk = await world.api.as_new_operator(world.container, "op-li", Role.OPERATOR)
    status, refused = await clerk.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert (status, refused["error"]["code"]) == (403, "ROLE_REQUIRED")


async def _escalated_period(env: Env) -> tuple[str, str]:
    order = await signed_up(env, order_body(None, ("100.00", -1)))
    channel = env.container.channels()["ant_lease"]
    channel.payment = channel.query = Unanswered()
    await env.collect()
    [period] = (await current(env, order["id"]))["periods"]
    await escalate(env.container, period["payment_id"])
    return order["id"], period["payment_id"]


async def _resolve_twice(env: Env, payment_id: str, decision: str) -> tuple[int, dict[str, Any]]:
    body = {**RESOLVE, "decision": decision}
    status, proposal = await env.api.post(f"/ops/payments/{payment_id}/resolve", body)
    assert status == 202, proposal
    second = await env.api.as_new_operator(env.container, "fin-zhou", Role.FINANCE)
    status, answer = await second.post(f"/ops/approvals/{proposal['id']}/confirm")
    return status, dict(answer)


async def test_a_rent_period_follows_a_resolved_deduction(env: Env) -> None:
    order_id, payment_id = await _escalated_period(env)
    status, confirmed = await _resolve_twice(env, payment_id, "succeeded")
    assert status == 200, confirmed
    [period] = (await current(env, order_id))["periods"]
    assert period["status"] == "paid", period


async def test_a_failed_decision_on_a_deduction_cancels_it_at_ant_lease_first(env: Env) -> None:
    """The deduction never reached Ant Lease (its request was lost); the confirmed `failed`
    decision first closes it there with alipay.trade.cancel (no trade: closed), then fails it."""
    assert env.container.channels()["ant_lease"].cancel is not None
    order_id, payment_id = await _escalated_period(env)
    status, confirmed = await _resolve_twice(env, payment_id, "failed")
    assert status == 200, confirmed
    status, payment = await env.api.get(f"/v1/payments/{payment_id}")
    assert status == 200 and payment["status"] == "failed", payment
    assert payment["failure_code"] == "OPERATOR_RESOLVED", payment["failure_code"]
    assert "cancelled at ant_lease" in payment["failure_message"], payment["failure_message"]
    [period] = (await current(env, order_id))["periods"]
    assert period["status"] != "paid", period

"""Resolving an escalated unknown over HTTP (POST /ops/payments/{id}/resolve, then a second
operator's POST /ops/approvals/{id}/confirm), on SQLite and PostgreSQL: both requests answer 202
at once and the approvals worker (run here by `work`) does the channel calls; the payout and the
rent period owning the payment follow; the proposer cannot confirm; a payment not escalated is
refused; a channel that answers meanwhile wins; of concurrent confirmations one runs; a channel
that does not answer holds no request; every step is in the audit log."""

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
    """Payment and query ports whose outcome stays unknown until a test sets `answer`; while a
    test holds `gate` closed, a query waits for it (a channel as slow as the test wants)."""

    def __init__(self) -> None:
        self.answer = UNKNOWN
        self.queries = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.asked = asyncio.Event()

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        return ChannelResult(ChannelStatus.PROCESSING, channel_ref="REF-1")

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        self.queries += 1
        self.asked.set()
        await self.gate.wait()
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


async def work(container: Any, holder: str = "test-worker") -> int:
    """One round of the approvals worker, as a served gateway runs it."""
    from gateway.workers.approvals import ApprovalWorker

    return await ApprovalWorker(container.approval_runs(), 50, holder).run_once()


async def approval(api: SignedClient, approval_id: str) -> dict[str, Any]:
    status, found = await api.get(f"/ops/approvals/{approval_id}")
    assert status == 200, found
    return dict(found)


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
    status, approved = await w.api.approve_payout(payout_id)
    assert status == 200, approved
    if escalated:
        await escalate(w.container, approved["payment_id"])
    return payout_id, approved["payment_id"]


RESOLVE = {"decision": "failed", "evidence": "Alipay ticket 2026-88", "note": "no money left the account"}


async def test_two_operators_resolve_and_the_payout_follows(world: World) -> None:
    payout_id, payment_id = await paying_payout(world)
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert status == 202 and proposal["status"] == "checking", proposal
    assert proposal["proposed_by"] == "demo-finance"
    assert await work(world.container) == 1
    assert (await approval(world.api, proposal["id"]))["status"] == "pending"
    proposer = world.api.as_operator("demo-finance-token-change-me")
    status, own = await proposer.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert (status, own["error"]["code"]) == (403, "SAME_OPERATOR")
    status, pending = await world.api.get("/ops/approvals")
    assert [a["id"] for a in pending["data"]] == [proposal["id"]]

    second = await world.finance("fin-wang")
    status, claimed = await second.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert status == 202 and claimed["status"] == "executing", claimed
    assert await work(world.container) == 1
    confirmed = await approval(world.api, proposal["id"])
    assert confirmed["status"] == "confirmed" and confirmed["decided_by"] == "fin-wang", confirmed
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
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert status == 202, proposal
    assert await work(world.container) == 1
    closed = await approval(world.api, proposal["id"])
    assert closed["status"] == "closed" and closed["reason"].startswith("CHANNEL_HAS_ANSWERED"), closed
    status, payout = await world.api.get(f"/ops/payouts/{payout_id}")
    assert payout["status"] == "succeeded"
    status, pending = await world.api.get("/ops/approvals")
    assert pending["data"] == []


async def test_concurrent_confirmations_resolve_once(world: World) -> None:
    _, payment_id = await paying_payout(world)
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert status == 202, proposal
    assert await work(world.container) == 1
    confirmers = [await world.finance(f"fin-{n}") for n in range(3)]
    queries = world.port.queries
    answers = await asyncio.gather(*(c.post(f"/ops/approvals/{proposal['id']}/confirm") for c in confirmers))
    assert sorted(s for s, _ in answers) == [202, 409, 409], answers
    rounds = await asyncio.gather(*(work(world.container, f"worker-{n}") for n in range(2)))
    assert sorted(rounds) == [0, 1], "one worker claimed it"
    assert world.port.queries == queries + 1, "one confirmation ran the decision"
    status, all_of_them = await world.api.get(f"/ops/approvals?status=any&subject_id={payment_id}")
    [decided] = all_of_them["data"]
    assert decided["status"] == "confirmed"


async def test_a_rejected_proposal_is_never_run(world: World) -> None:
    _, payment_id = await paying_payout(world)
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    await work(world.container)
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
    await work(world.container)
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


async def _resolve_twice(env: Env, payment_id: str, decision: str) -> dict[str, Any]:
    body = {**RESOLVE, "decision": decision}
    status, proposal = await env.api.post(f"/ops/payments/{payment_id}/resolve", body)
    assert status == 202, proposal
    assert await work(env.container) == 1
    second = await env.api.as_new_operator(env.container, "fin-zhou", Role.FINANCE)
    status, answer = await second.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert (status, answer["status"]) == (202, "executing"), answer
    assert await work(env.container) == 1
    return await approval(env.api, proposal["id"])


async def test_a_rent_period_follows_a_resolved_deduction(env: Env) -> None:
    order_id, payment_id = await _escalated_period(env)
    confirmed = await _resolve_twice(env, payment_id, "succeeded")
    assert confirmed["status"] == "confirmed", confirmed
    [period] = (await current(env, order_id))["periods"]
    assert period["status"] == "paid", period


async def test_a_failed_decision_on_a_deduction_cancels_it_at_ant_lease_first(env: Env) -> None:
    """The deduction never reached Ant Lease (its request was lost); the confirmed `failed`
    decision first closes it there with alipay.trade.cancel (no trade: closed), then fails it."""
    assert env.container.channels()["ant_lease"].cancel is not None
    order_id, payment_id = await _escalated_period(env)
    confirmed = await _resolve_twice(env, payment_id, "failed")
    assert confirmed["status"] == "confirmed", confirmed
    status, payment = await env.api.get(f"/v1/payments/{payment_id}")
    assert status == 200 and payment["status"] == "failed", payment
    assert payment["failure_code"] == "OPERATOR_RESOLVED", payment["failure_code"]
    assert "cancelled at ant_lease" in payment["failure_message"], payment["failure_message"]
    [period] = (await current(env, order_id))["periods"]
    assert period["status"] != "paid", period


async def test_a_channel_that_does_not_answer_holds_no_operator_request(world: World) -> None:
    """The channel answers the worker's queries only once both requests have been answered."""
    _, payment_id = await paying_payout(world)
    world.port.gate.clear()
    world.port.asked.clear()
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    assert (status, proposal["status"]) == (202, "checking") and not world.port.asked.is_set()
    worker = asyncio.create_task(work(world.container))
    await world.port.asked.wait()
    assert (await approval(world.api, proposal["id"]))["status"] == "checking"
    second = await world.finance("fin-qian")
    status, early = await second.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert (status, early["error"]["code"]) == (409, "APPROVAL_CHECKING")
    world.port.gate.set()
    assert await worker == 1

    world.port.gate.clear()
    world.port.asked.clear()
    status, claimed = await second.post(f"/ops/approvals/{proposal['id']}/confirm")
    assert (status, claimed["status"]) == (202, "executing") and not world.port.asked.is_set()
    worker = asyncio.create_task(work(world.container))
    await world.port.asked.wait()
    assert (await approval(world.api, proposal["id"]))["status"] == "executing"
    world.port.gate.set()
    assert await worker == 1
    assert (await approval(world.api, proposal["id"]))["status"] == "confirmed"


async def test_a_stopped_workers_claim_is_taken_over_once_it_has_ended(world: World) -> None:
    """A worker that stopped around its channel call leaves its claim; another process's worker
    takes the approval over once the claim has ended, never before."""
    from core.approvals.model import ApprovalStatus

    _, payment_id = await paying_payout(world)
    status, proposal = await world.api.post(f"/ops/payments/{payment_id}/resolve", RESOLVE)
    runs = world.container.approval_runs()
    store, now = runs.approvals.store, runs.approvals.clock()
    claimed = await store.claim(
        proposal["id"], ApprovalStatus.CHECKING, holder="stopped", until=now + runs.lease, now=now
    )
    assert claimed
    assert not await store.claim(
        proposal["id"], ApprovalStatus.CHECKING, holder="other", until=now + runs.lease, now=now
    ), "a claim that has not ended holds"
    assert await work(world.container) == 0
    # the stopped worker's claim runs out: seen from its end, it is free again (reset to `now`)
    assert await store.claim(
        proposal["id"], ApprovalStatus.CHECKING, holder="stopped", until=now, now=now + runs.lease
    )
    assert await work(world.container) == 1
    assert (await approval(world.api, proposal["id"]))["status"] == "pending"

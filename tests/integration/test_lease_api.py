"""Lease orders through the HTTP API, with the Ant Lease simulator on 127.0.0.1: the pre-order,
contract and withholding signing by a simulated user, rent collected period by period with a
failed and retried period, plan cancellation for lease-to-sale, closing and its preconditions,
forged and repeated callbacks, and the caller's webhooks."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from dependency_injector import providers
from paygate_testkit import APP_ID, APP_SECRET, OTHER_APP, OTHER_SECRET, SignedClient, Webhooks, make_settings

from plugins.alipay_openapi.notify import sign_notification
from plugins.alipay_openapi.sandbox import SANDBOX_GATEWAY, SandboxAnswer
from plugins.alipay_openapi.sandbox_keys import (
    ALIPAY_PUBLIC_KEY_FILE,
    APP_PRIVATE_KEY_FILE,
    load_sandbox_keys,
)
from plugins.alipay_openapi.signing import generate_private_key
from plugins.ant_lease.client import ORDER_CREATE, TRADE_PAY
from plugins.ant_lease.sandbox import LeaseSimulator, create_lease_sandbox_app
from plugins.ant_lease.settings import SANDBOX_APP_ID

KEYS = Path(__file__).parents[2] / "cassettes" / "ant_lease" / "keys"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
BUYER = "2088102146225135"
BEIJING = timezone(timedelta(hours=8))


def day(offset: int) -> str:
    """A Beijing calendar day relative to today."""
    return (datetime.now(BEIJING).date() + timedelta(days=offset)).isoformat()


def event_types(hooks: Webhooks, order_id: str) -> list[str]:
    return [e["event_type"] for e in hooks.events if e["order"]["id"] == order_id]


@dataclass
class Env:
    api: SignedClient
    other: SignedClient
    simulator: LeaseSimulator
    sandbox: TestServer
    hooks: Webhooks
    container: Any

    async def user(self, url: str, decision: str = "confirm") -> dict[str, Any]:
        """The user opens a signing URL and clicks (the sandbox's user simulation)."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                str(self.sandbox.make_url("/_sandbox/users/sign")), params={"url": url, "decision": decision}
            ) as response,
        ):
            return dict(await response.json())

    async def deliver(self) -> list[Any]:
        """The channel's asynchronous notifications reach the gateway's callback."""
        async with aiohttp.ClientSession() as session:
            return await self.simulator.deliver_notifications(session)

    async def collect(self, now: datetime | None = None) -> int:
        """One round of the lease worker."""
        return int(await self.container.lease_recovery().run_once(50, now))

    async def poll(self) -> int:
        from gateway.workers.query_poller import QueryPoller

        return await QueryPoller(self.container.engine(), self.container.payments(), batch=50).run_once()

    async def webhooks(self) -> None:
        from gateway.workers.outbox import OutboxDeliverer

        c = self.container
        async with aiohttp.ClientSession() as session:
            deliverer = OutboxDeliverer(c.uow, c.settings(), c.metrics(), lambda: session)
            while await deliverer.run_once():
                pass

    def deductions(self) -> list[dict[str, Any]]:
        return [biz for name, biz in self.sandbox.app[SANDBOX_GATEWAY].calls if name == TRADE_PAY]


@pytest.fixture
async def env(aiohttp_client: Any, aiohttp_server: Any, database_url: str) -> AsyncIterator[Env]:
    from gateway.app import create_app
    from gateway.container import Container

    hooks = Webhooks()
    hook_app = web.Application()
    hook_app.router.add_post("/hooks", hooks.handle)
    hook_server = await aiohttp_server(hook_app, host="127.0.0.1")
    simulator = LeaseSimulator(load_sandbox_keys(KEYS, SANDBOX_APP_ID))
    sandbox = TestServer(create_lease_sandbox_app(simulator), host="127.0.0.1")
    await sandbox.start_server()
    simulator.base_url = str(sandbox.make_url("")).rstrip("/")
    hook_url = str(hook_server.make_url("/hooks"))
    settings = make_settings(
        database_url,
        apps={
            APP_ID: {"secret": APP_SECRET, "notify_url": hook_url},
            OTHER_APP: {"secret": OTHER_SECRET, "notify_url": hook_url},
        },
        routing={
            "rules": [
                {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
                {"name": "lease rent", "pay_method": "withholding", "channel": "ant_lease"},
            ]
        },
        channels={
            "ant_lease": {
                "openapi": {
                    "gateway_url": str(sandbox.make_url("/gateway.do")),
                    "app_id": SANDBOX_APP_ID,
                    "app_private_key": (KEYS / APP_PRIVATE_KEY_FILE).read_text(),
                    "alipay_public_key": (KEYS / ALIPAY_PUBLIC_KEY_FILE).read_text(),
                    "timeout_seconds": 5,
                },
                "query_schedule_seconds": [0, 0, 0],
                "seal_signer_name": "测试出租方签署人",
                "seal_signer_cert_number": "110101199001010011",
            }
        },
        lease={"retry_schedule_seconds": [0, 0]},
        notify={"retry_schedule_seconds": [0, 0]},
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    client = await aiohttp_client(create_app(container))
    # notifications go to this gateway's callback (requests name no notify_url)
    simulator.default_notify_url = str(client.make_url("/callbacks/ant_lease"))
    api = SignedClient(client)
    yield Env(api, api.as_app(OTHER_APP, OTHER_SECRET), simulator, sandbox, hooks, container)
    await sandbox.close()


def order_body(
    out_order_no: str | None = None, *amounts_and_days: tuple[str, int], **changes: Any
) -> dict[str, Any]:
    plan = amounts_and_days or (("100.00", -60), ("100.44", -30), ("100.00", 0))
    periods = [{"due_date": day(offset), "amount": amount} for amount, offset in plan]
    total = sum(int(a.replace(".", "")) for a, _ in plan)
    return {
        "out_order_no": out_order_no or f"RENT-{uuid.uuid4().hex[:10]}",
        "buyer_id": BUYER,
        "title": "iPhone 16 Pro 租赁",
        "total_amount": f"{total // 100}.{total % 100:02d}",
        "period_count": len(periods),
        "periods": periods,
        **changes,
    }


async def created(env: Env, body: dict[str, Any] | None = None) -> dict[str, Any]:
    status, order = await env.api.post("/v1/lease/orders", body or order_body())
    assert status == 201, order
    return dict(order)


async def current(env: Env, order_id: str) -> dict[str, Any]:
    status, order = await env.api.get(f"/v1/lease/orders/{order_id}")
    assert status == 200, order
    return dict(order)


async def signed_up(env: Env, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """An order whose contract and withholding agreement the user signed (notified)."""
    order = await created(env, body)
    status, contract = await env.api.post(
        f"/v1/lease/orders/{order['id']}/contract/sign", {"template_id": "TPL_LEASE_STD"}
    )
    assert status == 200, contract
    assert (await env.user(contract["sign_url"]))["result"] == "signed"
    status, withholding = await env.api.post(f"/v1/lease/orders/{order['id']}/withholding/sign", {})
    assert status == 200, withholding
    assert (await env.user(withholding["sign_url"]))["result"] == "signed"
    assert all(d.acknowledged for d in await env.deliver())
    return await current(env, order["id"])


def periods(order: dict[str, Any]) -> list[tuple[int, str, int]]:
    return [(p["no"], p["status"], p["attempts"]) for p in order["periods"]]


# -- the pre-order ---------------------------------------------------------------------------
async def test_a_pre_order_is_synced_and_shown_with_its_rent_plan(env: Env) -> None:
    body = order_body("RENT-SYNC-1")
    order = await created(env, body)
    assert (order["status"], order["channel"], order["period_count"]) == ("synced", "ant_lease", 3)
    assert order["channel_order_id"] and order["total_amount"] == "300.44"
    assert [(p["no"], p["due_date"], p["amount"], p["status"]) for p in order["periods"]] == [
        (1, day(-60), "100.00", "pending"),
        (2, day(-30), "100.44", "pending"),
        (3, day(0), "100.00", "pending"),
    ]
    assert (order["contract"]["status"], order["agreement"]["status"], order["plan"]["status"]) == (
        "unsigned",
        "none",
        "active",
    )
    status, again = await env.api.post("/v1/lease/orders", body)
    assert (status, again["id"]) == (200, order["id"])
    status, error = await env.api.post("/v1/lease/orders", {**body, "title": "something else"})
    assert (status, error["error"]["code"]) == (409, "IDEMPOTENCY_CONFLICT")
    status, found = await env.api.get("/v1/lease/orders?out_order_no=RENT-SYNC-1")
    assert (status, found["id"]) == (200, order["id"])
    status, error = await env.other.get(f"/v1/lease/orders/{order['id']}")
    assert (status, error["error"]["code"]) == (404, "LEASE_ORDER_NOT_FOUND")

    status, info = await env.api.get(f"/v1/lease/orders/{order['id']}/channel-info")
    assert status == 200 and info["query_type"] == "orderFullInfo"
    assert (
        info["info"]["order_id"] == order["channel_order_id"] and info["info"]["out_order_id"] == order["id"]
    )
    assert [i["installment_price"] for i in info["info"]["rent_plan_info"]["installments"]] == [
        "100.00",
        "100.44",
        "100.00",
    ]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"total_amount": "1.00"}, "RENT_PLAN_SUM_MISMATCH"),
        ({"period_count": 2}, "PERIOD_COUNT_MISMATCH"),
        ({"buyer_id": "alice"}, "INVALID_ARGUMENT"),
        ({"total_amount": 300.44}, "INVALID_AMOUNT"),
        ({"colour": "red"}, "INVALID_ARGUMENT"),
    ],
)
async def test_a_malformed_pre_order_is_refused_and_nothing_is_stored(
    env: Env, changes: dict[str, Any], code: str
) -> None:
    body = order_body("RENT-BAD", **changes)
    status, error = await env.api.post("/v1/lease/orders", body)
    assert (status, error["error"]["code"]) == (400, code)
    status, _ = await env.api.get("/v1/lease/orders?out_order_no=RENT-BAD")
    assert status == 404


async def test_a_pre_order_the_channel_refuses_is_kept_as_sync_failed(env: Env) -> None:
    order = await created(env, order_body(buyer_id="2088000000000400"))
    assert order["status"] == "sync_failed" and order["failure"]["code"] == "BUYER_NOT_EXIST"
    status, error = await env.api.post(
        f"/v1/lease/orders/{order['id']}/contract/sign", {"template_id": "TPL_LEASE_STD"}
    )
    assert (status, error["error"]["code"]) == (409, "LEASE_STATE_CONFLICT")


# -- signing ---------------------------------------------------------------------------------
async def test_a_multi_party_contract_then_withholding_then_finalising(env: Env) -> None:
    order = await created(env)
    oid = order["id"]
    status, started = await env.api.post(
        f"/v1/lease/orders/{oid}/contract/sign", {"template_id": "TPL_LEASE_GUARANTEED"}
    )
    assert status == 200 and started["sign_url"]
    signers = {s["party"]: s for s in started["signers"]}
    assert set(signers) == {"lessee", "guarantor"} and not any(s["signed"] for s in signers.values())

    assert (await env.user(signers["lessee"]["sign_url"]))["result"] == "signed"
    await env.deliver()
    halfway = (await current(env, oid))["contract"]
    assert halfway["status"] == "signing"
    assert [s["signed"] for s in halfway["signers"]] == [True, False]
    assert (await env.user(signers["guarantor"]["sign_url"]))["result"] == "signed"
    await env.deliver()
    assert (await current(env, oid))["contract"]["status"] == "signed"

    status, withholding = await env.api.post(
        f"/v1/lease/orders/{oid}/withholding/sign", {"return_url": "https://shop/back"}
    )
    assert status == 200 and "alipay.user.agreement.page.sign" in withholding["sign_url"]
    assert withholding["order"]["agreement"]["status"] == "signing"
    assert (await env.user(withholding["sign_url"]))["result"] == "signed"
    await env.deliver()
    order = await current(env, oid)
    assert order["agreement"]["status"] == "signed" and order["agreement"]["agreement_no"]
    assert order["contract"]["status"] == "finalised", "落签 follows the withholding agreement"
    await env.webhooks()
    assert event_types(env.hooks, oid) == [
        "lease.contract_signed",
        "lease.agreement_signed",
        "lease.contract_finalised",
    ]
    status, flow = await env.api.get(f"/v1/lease/orders/{oid}/flow")
    nodes = [(r["node"], r["message"]) for r in flow["flow"]]
    assert nodes[0] == ("accepted", "lease order received")
    assert ("channel_answer", "finalise contract: succeeded") in nodes


async def test_a_refused_contract_can_be_signed_again(env: Env) -> None:
    order = await created(env, order_body(buyer_id="2088000000000401"))
    oid = order["id"]
    status, started = await env.api.post(
        f"/v1/lease/orders/{oid}/contract/sign", {"template_id": "TPL_LEASE_STD"}
    )
    assert (await env.user(started["sign_url"]))["result"] == "refused"
    await env.deliver()
    contract = (await current(env, oid))["contract"]
    assert (contract["status"], contract["failure_code"]) == ("refused", "REFUSED")
    status, again = await env.api.post(
        f"/v1/lease/orders/{oid}/contract/sign", {"template_id": "TPL_LEASE_STD"}
    )
    assert status == 200 and again["order"]["contract"]["status"] == "signing"
    assert again["order"]["contract"]["contract_no"] != started["order"]["contract"]["contract_no"]
    status, error = await env.api.post(f"/v1/lease/orders/{oid}/contract/sign", {"template_id": "TPL_NOPE"})
    assert (status, error["error"]["code"]) == (422, "CONTRACT_TEMPLATE_NOT_EXIST")
    await env.webhooks()
    assert event_types(env.hooks, oid) == ["lease.contract_sign_failed"]


async def test_withholding_query_applies_a_signature_the_notification_has_not_brought(env: Env) -> None:
    order = await created(env)
    oid = order["id"]
    status, error = await env.api.post(f"/v1/lease/orders/{oid}/withholding/query")
    assert (status, error["error"]["code"]) == (409, "LEASE_STATE_CONFLICT")
    status, started = await env.api.post(f"/v1/lease/orders/{oid}/withholding/sign")
    status, before = await env.api.post(f"/v1/lease/orders/{oid}/withholding/query")
    assert status == 200 and (before["channel"]["status"], before["channel"]["code"]) == (
        "processing",
        "NOT_SIGNED",
    )
    assert (await env.user(started["sign_url"]))["result"] == "signed"
    status, after = await env.api.post(f"/v1/lease/orders/{oid}/withholding/query")
    assert after["channel"]["status"] == "succeeded" and after["order"]["agreement"]["status"] == "signed"
    await env.deliver()  # the notification arrives late: harmless
    await env.webhooks()
    assert event_types(env.hooks, oid) == ["lease.agreement_signed"]


async def test_the_lessees_alipay_user_id_is_masked_in_every_answer_and_event(env: Env) -> None:
    """An Alipay user id is an account number: shown as payments show their accounts (a sign URL
    keeps it: it is the channel's signed request the lessee's browser takes there)."""
    order = await created(env)
    oid = order["id"]
    assert order["buyer_id"] == "2088********5135"
    status, started = await env.api.post(f"/v1/lease/orders/{oid}/withholding/sign")
    assert (await env.user(started["sign_url"]))["result"] == "signed"
    status, queried = await env.api.post(f"/v1/lease/orders/{oid}/withholding/query")
    assert status == 200 and queried["channel"]["detail"]["principal_id"] == "2088********5135"
    status, info = await env.api.get(f"/v1/lease/orders/{oid}/channel-info")
    status, shown = await env.api.get(f"/v1/lease/orders/{oid}")
    await env.deliver()
    await env.webhooks()
    assert event_types(env.hooks, oid)
    for answer in (order, started, queried, info, shown, *env.hooks.events):
        assert BUYER not in json.dumps(_without_sign_urls(answer))


def _without_sign_urls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_sign_urls(v) for k, v in value.items() if k != "sign_url"}
    if isinstance(value, list):
        return [_without_sign_urls(v) for v in value]
    return value


async def test_a_refused_withholding_page_leaves_the_signing_open_for_a_new_url(env: Env) -> None:
    oid = (await created(env))["id"]
    status, first = await env.api.post(f"/v1/lease/orders/{oid}/withholding/sign")
    assert (await env.user(first["sign_url"], "refuse"))["result"] == "refused"
    status, second = await env.api.post(f"/v1/lease/orders/{oid}/withholding/sign")
    assert status == 200 and second["sign_url"] != first["sign_url"]
    agreement = second["order"]["agreement"]
    assert agreement["status"] == "signing" and agreement["external_agreement_no"].endswith("02")
    assert (await env.user(second["sign_url"]))["result"] == "signed"
    await env.deliver()
    assert (await current(env, oid))["agreement"]["status"] == "signed"


# -- rent collection -------------------------------------------------------------------------
async def test_rent_is_collected_a_failed_period_retried_and_the_fulfilled_lease_closed(env: Env) -> None:
    order = await signed_up(env)
    oid = order["id"]
    assert order["contract"]["status"] == "finalised"

    assert await env.collect() >= 3
    order = await current(env, oid)
    assert periods(order) == [(1, "paid", 1), (2, "failed", 1), (3, "paid", 1)]
    failed = order["periods"][1]
    assert (failed["last_failure_code"], failed["next_attempt_at"]) != ("", None)
    assert failed["last_failure_code"] == "BUYER_BALANCE_NOT_ENOUGH"
    assert order["paid_amount"] == "200.00" and order["outstanding_amount"] == "100.44"
    status, error = await env.api.post(f"/v1/lease/orders/{oid}/close", {"reason": "done"})
    assert (status, error["error"]["code"], error["error"]["field"]) == (
        409,
        "CLOSE_PRECONDITION_FAILED",
        "fulfilled_or_plan_cancelled",
    )
    assert "period 2 unpaid" in error["error"]["message"]

    await env.collect()  # the retry schedule (0 s here) has come: a second attempt
    order = await current(env, oid)
    assert periods(order) == [(1, "paid", 1), (2, "paid", 2), (3, "paid", 1)]
    assert order["periods"][1]["trade_no"] and order["outstanding_amount"] == "0.00"
    trades = [d["out_trade_no"] for d in env.deductions()]
    assert len(trades) == len(set(trades)) == 4, "one deduction per attempt"
    await env.collect()
    assert len(env.deductions()) == 4, "nothing is collected twice"

    await env.deliver()  # trade_status_sync for the paid deductions: harmless repeats
    status, closed = await env.api.post(f"/v1/lease/orders/{oid}/close", {"reason": "lease complete"})
    assert status == 200 and closed["status"] == "closed"
    assert (closed["closure"]["basis"], closed["closure"]["reason"]) == ("fulfilled", "lease complete")
    status, again = await env.api.post(f"/v1/lease/orders/{oid}/close", {"reason": "again"})
    assert status == 200 and again["closure"]["reason"] == "lease complete"
    await env.webhooks()
    events = event_types(env.hooks, oid)
    assert events.count("lease.period_paid") == 3 and events.count("lease.period_failed") == 1
    assert events[-1] == "lease.order_closed"
    failed_event = next(e for e in env.hooks.events if e["event_type"] == "lease.period_failed")
    assert (failed_event["period"]["no"], failed_event["period"]["last_failure_code"]) == (
        2,
        "BUYER_BALANCE_NOT_ENOUGH",
    )
    status, info = await env.api.get(f"/v1/lease/orders/{oid}/channel-info")
    assert info["info"]["status"] == "CLOSED" and len(info["info"]["rent_pay_infos"]) == 3


async def test_an_unknown_deduction_is_resolved_by_query_never_by_a_new_attempt(env: Env) -> None:
    order = await signed_up(env, order_body(None, ("100.55", -1)))
    oid = order["id"]
    await env.collect()
    order = await current(env, oid)
    assert periods(order) == [(1, "collecting", 1)]
    await env.collect()
    assert len(env.deductions()) == 1, "a live attempt is never doubled"
    status, error = await env.api.post(f"/v1/lease/orders/{oid}/close", {"reason": "x"})
    assert (status, error["error"]["field"]) == (409, "no_deduction_in_flight")
    assert await env.poll() == 1
    assert periods(await current(env, oid)) == [(1, "paid", 1)]


async def test_the_plan_cancelled_for_lease_to_sale_allows_closing(env: Env) -> None:
    order = await signed_up(env, order_body(None, ("100.00", -1), ("100.00", 30), ("100.00", 60)))
    oid = order["id"]
    await env.collect()
    assert periods(await current(env, oid)) == [(1, "paid", 1), (2, "pending", 0), (3, "pending", 0)]
    status, error = await env.api.post(f"/v1/lease/orders/{oid}/close", {"reason": "sold"})
    assert (status, error["error"]["code"]) == (409, "CLOSE_PRECONDITION_FAILED")

    body = {"reason": "lease_to_sale", "note": "用户买断"}
    status, cancelled = await env.api.post(f"/v1/lease/orders/{oid}/withholding/cancel-plan", body)
    assert status == 200 and cancelled["plan"]["status"] == "cancelled"
    assert periods(cancelled) == [(1, "paid", 1), (2, "cancelled", 0), (3, "cancelled", 0)]
    status, again = await env.api.post(f"/v1/lease/orders/{oid}/withholding/cancel-plan", body)
    assert status == 200
    status, error = await env.api.post(
        f"/v1/lease/orders/{oid}/withholding/cancel-plan", {"reason": "other", "note": "x"}
    )
    assert (status, error["error"]["code"]) == (409, "LEASE_STATE_CONFLICT")
    status, closed = await env.api.post(f"/v1/lease/orders/{oid}/close", {"reason": "租转售"})
    assert status == 200 and closed["closure"]["basis"] == "lease_to_sale"
    await env.webhooks()
    assert event_types(env.hooks, oid)[-2:] == ["lease.plan_cancelled", "lease.order_closed"]


async def test_a_plan_cancelled_for_another_reason_does_not_allow_closing(env: Env) -> None:
    oid = (await signed_up(env, order_body(None, ("100.00", 30))))["id"]
    status, _ = await env.api.post(
        f"/v1/lease/orders/{oid}/withholding/cancel-plan", {"reason": "other", "note": "用户要求"}
    )
    assert status == 200
    status, error = await env.api.post(f"/v1/lease/orders/{oid}/close", {"reason": "x"})
    assert (status, error["error"]["field"]) == (409, "fulfilled_or_plan_cancelled")
    assert "cancelled for other" in error["error"]["message"]


# -- unsigning -------------------------------------------------------------------------------
async def test_an_async_unsign_request_is_refused_and_an_unsign_stops_collection(env: Env) -> None:
    order = await signed_up(env, order_body(None, ("100.00", 30)))
    oid = order["id"]
    status, error = await env.api.post(
        f"/v1/lease/orders/{oid}/withholding/unsign-confirmation",
        {"operation": "CONFIRM", "service_user": "x", "user_debt": "1.00", "reason": "x"},
    )
    assert status == 400
    refusal = {
        "operation": "REFUSE",
        "service_user": "客服小王",
        "user_debt": "100.00",
        "reason": "尚有租金未付",
    }
    status, refused = await env.api.post(f"/v1/lease/orders/{oid}/withholding/unsign-confirmation", refusal)
    assert status == 200 and refused["agreement"]["status"] == "signed"
    [kept] = refused["agreement"]["unsign_refusals"]
    assert (kept["operation"], kept["service_user"], kept["user_debt"]) == ("REFUSE", "客服小王", "100.00")
    agreement_no = refused["agreement"]["agreement_no"]
    [sim_agreement] = [a for a in env.simulator.agreements.values() if a.agreement_no == agreement_no]
    assert sim_agreement.refusals[0]["user_debt"] == "100.00"

    status, unsigned = await env.api.post(f"/v1/lease/orders/{oid}/withholding/unsign", {"reason": "退租"})
    assert status == 200 and unsigned["agreement"]["status"] == "unsigned"
    await env.deliver()  # dut_user_unsign: a harmless repeat
    status, again = await env.api.post(f"/v1/lease/orders/{oid}/withholding/unsign", {"reason": "again"})
    assert status == 200 and again["agreement"]["unsign_reason"] == "退租"
    status, error = await env.api.post(f"/v1/lease/orders/{oid}/withholding/unsign-confirmation", refusal)
    assert (status, error["error"]["code"]) == (409, "LEASE_STATE_CONFLICT")
    await env.webhooks()
    assert event_types(env.hooks, oid).count("lease.agreement_unsigned") == 1


async def test_an_unsign_at_the_channel_reaches_the_order(env: Env) -> None:
    order = await signed_up(env)
    agreement_no = order["agreement"]["agreement_no"]
    unsign = {"agreement_no": agreement_no}
    await env.simulator.agreement_unsign(unsign, {})  # the user unsigns in the Alipay app
    await env.deliver()
    order = await current(env, order["id"])
    assert order["agreement"]["status"] == "unsigned"
    assert await env.collect() == 0 and env.deductions() == []


# -- callbacks -------------------------------------------------------------------------------
async def callback(env: Env, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    response = await env.api.client.post("/callbacks/ant_lease", data=body, headers=headers or FORM)
    return response.status, await response.text()


async def test_forged_callbacks_are_rejected_and_repeated_ones_are_harmless(env: Env) -> None:
    order = await created(env)
    oid = order["id"]
    status, started = await env.api.post(f"/v1/lease/orders/{oid}/withholding/sign")
    await env.user(started["sign_url"])
    [notice] = env.simulator.pending
    env.simulator.pending = []
    forged = urlencode(sign_notification(notice.fields, generate_private_key())).encode()
    genuine = urlencode(sign_notification(notice.fields, env.simulator.keys.alipay_private_key)).encode()
    tampered = genuine.replace(b"NORMAL", b"NORMAX")
    foreign = urlencode(
        sign_notification(
            {**notice.fields, "app_id": "2021000000000001"}, env.simulator.keys.alipay_private_key
        )
    ).encode()
    for body in (forged, tampered, foreign, urlencode(notice.fields).encode()):
        status, text = await callback(env, body)
        assert status == 400 and text != "success"
    assert (await callback(env, genuine, {"Content-Type": "application/json"}))[0] == 400
    assert (await current(env, oid))["agreement"]["status"] == "signing"

    assert await callback(env, genuine) == (200, "success")
    assert await callback(env, genuine) == (200, "success")
    assert (await current(env, oid))["agreement"]["status"] == "signed"
    unknown = {**notice.fields, "external_agreement_no": "SOMEONE-ELSE"}
    signed_unknown = urlencode(sign_notification(unknown, env.simulator.keys.alipay_private_key)).encode()
    assert await callback(env, signed_unknown) == (200, "success"), "acknowledged, changes nothing"
    await env.webhooks()
    assert event_types(env.hooks, oid) == ["lease.agreement_signed"]


async def test_the_worker_syncs_a_pre_order_whose_answer_was_lost(env: Env) -> None:
    gateway = env.sandbox.app[SANDBOX_GATEWAY]
    handlers = dict(gateway.handlers)

    async def unverifiable(biz: dict[str, Any], common: Any) -> SandboxAnswer:
        await handlers[ORDER_CREATE](biz, common)  # the order is made, but the answer cannot be trusted
        return SandboxAnswer({"code": "10000", "msg": "Success"}, signing_key=generate_private_key())

    gateway.handlers = {**handlers, ORDER_CREATE: unverifiable}
    status, order = await env.api.post("/v1/lease/orders", order_body())
    assert status == 201 and order["status"] == "created"
    gateway.handlers = handlers
    await env.collect()
    assert (await current(env, order["id"]))["status"] == "created", "not before resync_after"
    await env.collect(datetime.now(UTC) + timedelta(minutes=2))
    order = await current(env, order["id"])
    assert order["status"] == "synced" and order["channel_order_id"]
    assert len(env.simulator.orders) == 1, "the resent pre-order is the same order"


def test_due_days_are_beijing_days() -> None:
    assert date.fromisoformat(day(0)) == datetime.now(UTC).astimezone(BEIJING).date()


async def test_an_attempt_a_crash_left_unsubmitted_is_submitted_once_by_the_worker(env: Env) -> None:
    oid = (await signed_up(env, order_body(None, ("100.00", -1))))["id"]
    book = env.container.lease_book()
    async with book.uow() as uow:  # the attempt is committed, then the process dies
        repo = uow.lease_orders
        stored = await repo.get_for_update(oid)
        moved, _ = stored.start_attempt(1, datetime.now(UTC))
        await repo.save(moved, expected_version=stored.version)
        await uow.commit()
    await env.collect()
    assert env.deductions() == [] and periods(await current(env, oid)) == [(1, "collecting", 1)]
    await env.collect(datetime.now(UTC) + timedelta(minutes=2))
    assert periods(await current(env, oid)) == [(1, "paid", 1)]
    await env.collect(datetime.now(UTC) + timedelta(minutes=4))
    assert len(env.deductions()) == 1


@pytest.mark.parametrize(
    ("days", "field"),
    [
        (("0001-01-01", "0001-02-01"), "periods[0].due_date"),  # before the first UTC day (a 500 once)
        (("1999-12-31", "2000-01-31"), "periods[0].due_date"),
        (("2099-12-01", "2100-01-01"), "periods[1].due_date"),
        (("9999-11-30", "9999-12-31"), "periods[0].due_date"),
    ],
)
async def test_a_rent_plan_outside_this_century_is_refused_naming_the_day(
    env: Env, days: tuple[str, str], field: str
) -> None:
    body = order_body("RENT-FAR", ("100.00", 0), ("100.00", 30))
    body["periods"] = [{"due_date": d, "amount": "100.00"} for d in days]
    status, error = await env.api.post("/v1/lease/orders", body)
    assert (status, error["error"]["code"], error["error"]["field"]) == (400, "INVALID_ARGUMENT", field), (
        error
    )
    assert "2000–2099" in error["error"]["message"]
    status, _ = await env.api.get("/v1/lease/orders?out_order_no=RENT-FAR")
    assert status == 404

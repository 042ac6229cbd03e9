"""Every move of a payment reaches the record it pays for, in the same transaction: a payout
and a rent period follow their payment through processing -> unknown -> processing ->
succeeded, each move after the submit made by the query poller. The payout's channel is a
scripted one registered as a plugin for the test; the lease's is the Ant Lease simulator's,
whose payment and query ports are swapped for the script once the user has signed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from dependency_injector import providers
from paygate_testkit import SignedClient, make_settings
from test_lease_api import Env, current, order_body, signed_up
from test_lease_api import env as env  # the lease API's fixture, with its Ant Lease simulator

from ports.channels import Channel, ChannelResult, ChannelServices, ChannelStatus, PaymentRequest
from ports.hookspecs import hookimpl

SUBMIT = ChannelResult(ChannelStatus.PROCESSING, channel_ref="REF-1")
QUERIES = [
    ChannelResult(ChannelStatus.UNKNOWN, code="SYSTEM_ERROR"),
    ChannelResult(ChannelStatus.PROCESSING, channel_ref="REF-2"),
    ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="REF-2"),
]


class Scripted:
    """Payment and query ports answering from a script: the submit, then one answer per query."""

    def __init__(self) -> None:
        self.queries = list(QUERIES)

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        return SUBMIT

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        return self.queries.pop(0)


class ScriptedPlugin:
    @hookimpl
    def register_channels(
        self, settings: Mapping[str, Mapping[str, Any]], services: ChannelServices
    ) -> list[Channel]:
        adapter = Scripted()
        return [
            Channel(
                "scripted",
                frozenset({"alipay"}),
                frozenset({"CNY"}),
                payment=adapter,
                query=adapter,
                query_schedule_seconds=(0, 0, 0, 0),
            )
        ]


@pytest.fixture
async def api(aiohttp_client: Any, database_url: str) -> SignedClient:
    from gateway.app import create_app
    from gateway.container import Container
    from gateway.plugins import build_plugin_manager

    settings = make_settings(
        database_url,
        routing={
            "rules": [
                {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
                {"name": "payouts", "pay_method": "alipay", "channel": "scripted"},
            ]
        },
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    container.plugin_manager.override(providers.Object(build_plugin_manager([ScriptedPlugin()])))
    return SignedClient(await aiohttp_client(create_app(container)))


async def poll(api: SignedClient) -> None:
    from gateway.keys import CONTAINER
    from gateway.workers.query_poller import QueryPoller

    container = api.client.app[CONTAINER]
    assert await QueryPoller(container.engine(), container.payments(), batch=10).run_once() == 1


async def payout_and_payment(api: SignedClient, payout_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    status, payout = await api.get(f"/ops/payouts/{payout_id}")
    assert status == 200, payout
    status, payment = await api.get(f"/v1/payments/{payout['payment_id']}")
    assert status == 200, payment
    return payout, payment


async def test_a_payout_follows_each_move_of_its_payment(api: SignedClient) -> None:
    item = {
        "serial_no": f"S-{uuid.uuid4().hex[:12]}",
        "order_serial_no": "ORD-1",
        "payee_account": "zhangsan@example.com",
        "amount": "12.30",
        "ext": {"type": 2, "pay_method": 1, "reason": "compensation", "payee_name": "张三"},
    }
    status, batch = await api.post("/v1/payouts", {"trace_id": "trace-1", "items": [item]})
    assert status == 200 and batch["items"][0]["status"] == "accepted", batch
    payout_id = batch["items"][0]["payout"]["id"]
    status, approved = await api.approve_payout(payout_id, {"reviewer": "finance-li"})
    assert status == 200, approved

    expected = [
        ("processing", "paying", "REF-1"),  # the submit's answer
        ("unknown", "paying", "REF-1"),  # each of the others: a query's answer
        ("processing", "paying", "REF-2"),
        ("succeeded", "succeeded", "REF-2"),
    ]
    for step, (payment_status, payout_status, ref) in enumerate(expected):
        if step:
            await poll(api)
        payout, payment = await payout_and_payment(api, payout_id)
        assert (payment["status"], payment["channel_ref"]) == (payment_status, ref), step
        assert (payout["status"], payout["channel_ref"]) == (payout_status, ref), step
        assert payout["updated_at"] == payment["updated_at"], f"the payout lags its payment at {step}"


async def test_a_rent_period_follows_each_move_of_its_deduction(env: Env) -> None:
    order = await signed_up(env, order_body(None, ("100.00", -1)))
    channel = env.container.channels()["ant_lease"]
    channel.payment = channel.query = Scripted()
    await env.collect()

    expected = [
        ("processing", "collecting", None),
        ("unknown", "collecting", None),
        ("processing", "collecting", None),
        ("succeeded", "paid", "REF-2"),
    ]
    for step, (payment_status, period_status, trade_no) in enumerate(expected):
        if step:
            await poll(env.api)
        [period] = (await current(env, order["id"]))["periods"]
        status, payment = await env.api.get(f"/v1/payments/{period['payment_id']}")
        assert status == 200, payment
        assert payment["status"] == payment_status, step
        assert (period["status"], period["attempts"], period["trade_no"]) == (period_status, 1, trade_no), (
            step
        )
    assert period["paid_at"] == payment["updated_at"]

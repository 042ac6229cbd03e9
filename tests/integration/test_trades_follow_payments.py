"""A trade paid through a channel that answers later follows its payment by itself, on SQLite and
PostgreSQL: `GET /v1/trades/{id}` shows it `paid` (or `failed`) once the query poller or a
verified channel callback made the payment final, with no repeated pay request. The channel is
a scripted one registered as a plugin for the test: its submit answers `processing`, its query
answers from a script, and its callbacks carry a JSON notice."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from dependency_injector import providers
from paygate_testkit import SignedClient, make_settings
from test_payment_moves_reach_owners import poll

from ports.channels import (
    Channel,
    ChannelNotification,
    ChannelResult,
    ChannelServices,
    ChannelStatus,
    PaymentRequest,
)
from ports.hookspecs import hookimpl

WORKING = ChannelResult(ChannelStatus.PROCESSING, channel_ref="BANK-1")


class LaterChannel:
    """Payment, query and notification ports of a channel that answers later: the submit is
    `processing`, each query takes the next of `queries`, a callback says what its body says."""

    def __init__(self) -> None:
        self.queries: list[ChannelResult] = []

    async def submit(self, request: PaymentRequest) -> ChannelResult:
        return WORKING

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        return self.queries.pop(0)

    async def verify_notification(self, headers: Mapping[str, str], body: bytes) -> ChannelNotification:
        notice = json.loads(body)
        return ChannelNotification(notice["payment_id"], ChannelResult(ChannelStatus(notice["status"])))


class LaterPlugin:
    def __init__(self) -> None:
        self.adapter = LaterChannel()

    @hookimpl
    def register_channels(
        self, settings: Mapping[str, Mapping[str, Any]], services: ChannelServices
    ) -> list[Channel]:
        a = self.adapter
        return [
            Channel(
                "later",
                frozenset({"bank"}),
                frozenset({"CNY"}),
                payment=a,
                query=a,
                notification=a,
                query_schedule_seconds=(0, 0, 0),
            )
        ]


@pytest.fixture
def plugin() -> LaterPlugin:
    return LaterPlugin()


@pytest.fixture
async def api(aiohttp_client: Any, database_url: str, plugin: LaterPlugin) -> SignedClient:
    from gateway.app import create_app
    from gateway.container import Container
    from gateway.plugins import build_plugin_manager

    settings = make_settings(
        database_url,
        routing={
            "rules": [
                {"name": "transfers", "pay_method": "transfer", "channel": "internal_transfer"},
                {"name": "bank", "pay_method": "bank", "channel": "later"},
            ]
        },
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    container.plugin_manager.override(providers.Object(build_plugin_manager([plugin])))
    return SignedClient(await aiohttp_client(create_app(container)))


async def paying(api: SignedClient) -> dict[str, Any]:
    """A trade paid on the channel that answers later: the pay request leaves it `paying`."""
    body = {
        "out_trade_no": f"T-{uuid.uuid4().hex[:12]}",
        "amount": "100.00",
        "currency": "CNY",
        "payer_account": "buyer-card",
        "payee_account": "seller-card",
        "pay_method": "bank",
    }
    status, trade = await api.post("/v1/trades", body)
    assert status == 201, trade
    status, paid = await api.post(f"/v1/trades/{trade['id']}/pay", {})
    assert status == 201, paid
    assert (paid["trade"]["status"], paid["payment"]["status"]) == ("paying", "processing")
    return dict(paid)


async def trade_and_payment(api: SignedClient, trade_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    status, trade = await api.get(f"/v1/trades/{trade_id}")
    assert status == 200, trade
    status, payment = await api.get(f"/v1/payments/{trade['payment_id']}")
    assert status == 200, payment
    return trade, payment


@pytest.mark.parametrize(
    ("answer", "trade_status", "payment_status"),
    [(ChannelStatus.SUCCEEDED, "paid", "succeeded"), (ChannelStatus.FAILED, "failed", "failed")],
)
async def test_the_query_poller_makes_the_trade_final_without_a_repeated_pay_request(
    api: SignedClient, plugin: LaterPlugin, answer: ChannelStatus, trade_status: str, payment_status: str
) -> None:
    paid = await paying(api)
    trade_id = paid["trade"]["id"]
    plugin.adapter.queries = [ChannelResult(ChannelStatus.UNKNOWN), ChannelResult(answer)]
    await poll(api)  # unknown: the trade stays paying
    trade, payment = await trade_and_payment(api, trade_id)
    assert (trade["status"], payment["status"]) == ("paying", "unknown")
    await poll(api)
    trade, payment = await trade_and_payment(api, trade_id)
    assert (trade["status"], payment["status"]) == (trade_status, payment_status)
    assert trade["updated_at"] == payment["updated_at"]  # moved in the payment's transaction


async def test_a_verified_callback_pays_the_trade_and_a_repeat_changes_nothing(api: SignedClient) -> None:
    paid = await paying(api)
    trade_id, payment_id = paid["trade"]["id"], paid["payment"]["id"]
    notice = json.dumps({"payment_id": payment_id, "status": "succeeded"})
    for _ in range(2):  # channels repeat their callbacks
        response = await api.client.post("/callbacks/later", data=notice)
        assert response.status == 200, await response.text()
    trade, payment = await trade_and_payment(api, trade_id)
    assert (trade["status"], payment["status"]) == ("paid", "succeeded")
    status, again = await api.post(f"/v1/trades/{trade_id}/pay", {})
    assert status == 200, again
    assert again["trade"] == trade and again["payment"]["id"] == payment_id
    assert (await api.get(f"/v1/trades/{trade_id}"))[1] == trade

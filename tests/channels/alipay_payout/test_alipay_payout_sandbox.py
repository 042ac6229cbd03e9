"""The payout simulator itself: order.changed notifies, validation, balance, lookups."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from alipay_payout_harness import KEYS, sandbox_settings

from plugins.alipay_openapi.client import AlipayClient
from plugins.alipay_openapi.errors import NotifyVerificationError
from plugins.alipay_openapi.notify import VerifiedNotification, verify_notify_body
from plugins.alipay_openapi.signing import load_public_key
from plugins.alipay_payout.client import (
    TRANSFER_METHOD,
    IdentityType,
    Payee,
    TransferOrder,
    TransferQuery,
    TransferStatus,
    query_transfer,
    transfer,
)
from plugins.alipay_payout.order_changed import parse_order_changed
from plugins.alipay_payout.sandbox import (
    ALIPAY_PUBLIC_KEY_FILE,
    SANDBOX_APP_ID,
    PayoutSandbox,
    PayoutSimulator,
    create_payout_sandbox_app,
    load_sandbox_keys,
)

FIXED_NOW = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
ALIPAY_PUBLIC_KEY = load_public_key((KEYS / ALIPAY_PUBLIC_KEY_FILE).read_text())


@dataclass
class Receiver:
    """A notify_url that records what reaches it and answers `reply`."""

    url: str
    received: list[bytes]


async def _receiver(aiohttp_server: Any, reply: str = "success") -> Receiver:
    received: list[bytes] = []

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(text=reply)

    app = web.Application()
    app.router.add_post("/alipay/notify", receive)
    server = await aiohttp_server(app)
    return Receiver(str(server.make_url("/alipay/notify")), received)


@dataclass
class Harness:
    simulator: PayoutSimulator
    client: AlipayClient
    session: aiohttp.ClientSession
    received: list[bytes]


@pytest.fixture
async def harness(aiohttp_server: Any) -> AsyncIterator[Harness]:
    receiver = await _receiver(aiohttp_server)
    simulator = PayoutSimulator(load_sandbox_keys(KEYS), balance=Decimal("100.00"), clock=lambda: FIXED_NOW)
    gateway = await aiohttp_server(create_payout_sandbox_app(simulator))
    async with aiohttp.ClientSession() as session:
        settings = sandbox_settings(str(gateway.make_url("/gateway.do")), notify_url=receiver.url)
        yield Harness(simulator, AlipayClient(settings, session), session, receiver.received)


def _order(out_biz_no: str, identity: str = "ivan@example.com", amount: str = "10.00") -> TransferOrder:
    return TransferOrder(
        out_biz_no, Decimal(amount), Payee(identity, IdentityType.ALIPAY_LOGON_ID, name="伊万"), "退余款"
    )


def _verified(body: bytes) -> VerifiedNotification:
    return verify_notify_body(body, ALIPAY_PUBLIC_KEY, expected_app_id=SANDBOX_APP_ID)


async def test_final_transfer_sends_a_verifiable_order_changed_message(harness: Harness) -> None:
    result = await transfer(harness.client, _order("SB-NOTIFY-1"))

    deliveries = await harness.simulator.deliver_notifications(harness.session)

    assert [d.acknowledged for d in deliveries] == [True]
    changed = parse_order_changed(_verified(harness.received[0]))
    assert changed.out_biz_no == "SB-NOTIFY-1"
    assert changed.status is TransferStatus.SUCCESS
    assert changed.order_id == result.order_id
    assert changed.trans_amount == Decimal("10.00")
    assert changed.pay_date == FIXED_NOW


async def test_dealing_transfer_notifies_only_once_final(harness: Harness) -> None:
    order = _order("SB-NOTIFY-2", identity="dealing.judy@example.com")
    await transfer(harness.client, order)

    before = await harness.simulator.deliver_notifications(harness.session)
    for _ in range(3):
        await query_transfer(harness.client, TransferQuery.for_order(order))
    after = await harness.simulator.deliver_notifications(harness.session)

    assert before == []
    assert len(after) == 1
    assert parse_order_changed(_verified(harness.received[0])).status is TransferStatus.SUCCESS


async def test_unacknowledged_notification_stays_pending(aiohttp_server: Any) -> None:
    receiver = await _receiver(aiohttp_server, reply="fail")
    simulator = PayoutSimulator(load_sandbox_keys(KEYS), default_notify_url=receiver.url)
    await simulator.uni_transfer(_order("SB-NOTIFY-3").to_biz_content(), {"app_id": SANDBOX_APP_ID})

    async with aiohttp.ClientSession() as session:
        deliveries = await simulator.deliver_notifications(session)

    assert not deliveries[0].acknowledged
    assert [t.out_biz_no for t in simulator.pending_notifications] == ["SB-NOTIFY-3"]


async def test_failed_transfer_returns_the_debit(harness: Harness) -> None:
    order = TransferOrder(
        "SB-FAIL-1",
        Decimal("40.00"),
        Payee("dealing_fail.kim@example.com", IdentityType.ALIPAY_LOGON_ID, "金"),
        "t",
    )
    await transfer(harness.client, order)
    assert harness.simulator.balance == Decimal("60.00")

    for _ in range(3):
        final = await query_transfer(harness.client, TransferQuery.for_order(order))

    assert final.status is TransferStatus.FAIL
    assert harness.simulator.balance == Decimal("100.00")


async def test_amount_over_balance_and_under_minimum_are_refused(harness: Harness) -> None:
    too_much = await transfer(harness.client, _order("SB-AMT-1", amount="100.01"))
    too_little = await transfer(harness.client, _order("SB-AMT-2", amount="0.09"))

    assert too_much.sub_code == "PAYER_BALANCE_NOT_ENOUGH"
    assert too_little.sub_code == "EXCEED_LIMIT_SM_MIN_AMOUNT"
    assert harness.simulator.transfers == {}


async def test_query_by_pay_fund_order_id(harness: Harness) -> None:
    accepted = await transfer(harness.client, _order("SB-QUERY-1"))
    assert accepted.pay_fund_order_id is not None

    found = await query_transfer(
        harness.client, TransferQuery.by_pay_fund_order_id(accepted.pay_fund_order_id)
    )

    assert found.out_biz_no == "SB-QUERY-1"


@pytest.mark.parametrize(
    ("change", "sub_msg"),
    [
        ({"trans_amount": "1.234"}, "trans_amount"),
        ({"product_code": "TRANS_BANKCARD_NO_PWD"}, "product_code"),
        ({"payee_info": {"identity": "x@y.z", "identity_type": "ALIPAY_LOGON_ID"}}, "name"),
        ({"biz_scene": "PERSONAL_PAY"}, "biz_scene"),
    ],
)
async def test_malformed_transfers_are_invalid_parameter(
    harness: Harness, change: dict[str, Any], sub_msg: str
) -> None:
    biz = {**_order("SB-BAD-1").to_biz_content(), **change}

    response = await harness.client.execute(TRANSFER_METHOD, biz)

    assert response.sub_code == "INVALID_PARAMETER"
    assert sub_msg in (response.sub_msg or "")


async def test_other_messages_are_not_taken_for_order_changes(harness: Harness) -> None:
    fields = {"app_id": SANDBOX_APP_ID, "msg_method": "alipay.other.changed", "biz_content": "{}"}
    notification = VerifiedNotification(fields=fields, biz_content={})

    with pytest.raises(NotifyVerificationError):
        parse_order_changed(notification)


async def test_running_sandbox_delivers_notifications_by_itself(aiohttp_server: Any) -> None:
    receiver = await _receiver(aiohttp_server)
    sandbox = PayoutSandbox(load_sandbox_keys(KEYS), default_notify_url=receiver.url)
    await sandbox.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = AlipayClient(sandbox_settings(sandbox.gateway_url), session)
            await transfer(client, _order("SB-RUN-1"))
            # Deterministic: the trigger endpoint waits for whatever is still pending.
            async with session.post(sandbox.url + "/_sandbox/notifications/deliver") as answer:
                assert answer.status == 200
    finally:
        await sandbox.stop()

    assert len(receiver.received) == 1
    assert parse_order_changed(_verified(receiver.received[0])).out_biz_no == "SB-RUN-1"

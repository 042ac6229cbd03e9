"""The Alipay payout channel's ports against the simulator on 127.0.0.1: the conformance suite,
status mapping, unknown outcomes, masked exchanges, and notification verification."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import TestServer
from alipay_payout_harness import KEYS

from core.money import Money
from plugins.alipay_openapi.client import encode_biz_content
from plugins.alipay_openapi.notify import sign_notification
from plugins.alipay_openapi.signing import generate_private_key
from plugins.alipay_payout import register_channels
from plugins.alipay_payout.client import ORDER_CHANGED_METHOD, TRANSFER_METHOD
from plugins.alipay_payout.sandbox import (
    ALIPAY_PUBLIC_KEY_FILE,
    APP_PRIVATE_KEY_FILE,
    SANDBOX_APP_ID,
    PayoutSimulator,
    create_payout_sandbox_app,
    load_sandbox_keys,
)
from plugins.alipay_payout.simulator import DEFAULT_BALANCE, RETURNED_REASON
from ports.channels import (
    Channel,
    ChannelServices,
    ChannelStatus,
    NotificationRejected,
    PaymentRequest,
    RequestNotSent,
)
from ports.conformance import ChannelConformance, ConformanceSubject, refused_port

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
PAYEES = {
    "success": "someone@example.com",
    "failure": "payee_not_exist@example.com",
    "unknown": "system_error@example.com",
    "bad_sign": "bad_sign@example.com",  # transferred, but the answer is signed with another key
}
BANK = {"main_bank": "中国工商银行", "province": "江苏省", "city": "苏州市", "branch": "苏州分行"}


class NoAccounts:
    async def get_accounts(self, ids: object) -> dict[str, object]:
        return {}


def openapi(gateway_url: str, timeout_seconds: float = 5) -> dict[str, Any]:
    return {
        "gateway_url": gateway_url,
        "app_id": SANDBOX_APP_ID,
        "app_private_key": (KEYS / APP_PRIVATE_KEY_FILE).read_text(),
        "alipay_public_key": (KEYS / ALIPAY_PUBLIC_KEY_FILE).read_text(),
        "timeout_seconds": timeout_seconds,
    }


def build_channel(gateway_url: str, timeout_seconds: float = 5) -> Channel:
    settings = {
        "alipay_payout": {
            "openapi": openapi(gateway_url, timeout_seconds),
            "query_schedule_seconds": [0, 1],
        }
    }
    [channel] = register_channels(settings=settings, services=ChannelServices(NoAccounts()))
    return channel


def payment(
    payee: str, *, amount: str = "10.00", pay_method: str = "alipay", **details: Any
) -> PaymentRequest:
    return PaymentRequest(
        f"pay_{uuid.uuid4().hex[:27]}",
        "app",
        pay_method,
        Money.parse(amount, "CNY"),
        None,
        payee,
        details={"payee_name": "张三", **details},
    )


@dataclass
class Alipay:
    simulator: PayoutSimulator
    channel: Channel

    def order_changed(self, request: PaymentRequest, status: str = "SUCCESS", **overrides: str) -> bytes:
        """A signed order.changed message about `request`, as Alipay would post it."""
        transfer = self.simulator.transfers.get(request.payment_id)
        if transfer is not None:
            fields = self.simulator.order_changed_fields(transfer)
        else:
            biz = {
                "out_biz_no": request.payment_id,
                "order_id": "1",
                "pay_fund_order_id": "2",
                "status": status,
                "trans_amount": str(request.amount),
            }
            fields = {
                "app_id": SANDBOX_APP_ID,
                "charset": "utf-8",
                "msg_method": ORDER_CHANGED_METHOD,
                "notify_id": uuid.uuid4().hex,
                "utc_timestamp": "1716192000000",
                "version": "1.1",
                "biz_content": encode_biz_content(biz),
            }
        fields.update(overrides)
        signed = sign_notification(fields, self.simulator.keys.alipay_private_key)
        return urlencode(signed).encode()


@pytest.fixture
async def alipay() -> AsyncIterator[Alipay]:
    simulator = PayoutSimulator(load_sandbox_keys(KEYS))
    server = TestServer(create_payout_sandbox_app(simulator), host="127.0.0.1")
    await server.start_server()
    channel = build_channel(str(server.make_url("/gateway.do")))
    yield Alipay(simulator, channel)
    assert channel.close is not None
    await channel.close()
    await server.close()


class TestAlipayPayoutConformance(ChannelConformance):
    @pytest.fixture
    def subject(self, alipay: Alipay) -> ConformanceSubject:
        async def notification(
            request: PaymentRequest, status: ChannelStatus
        ) -> tuple[Mapping[str, str], bytes]:
            return FORM, alipay.order_changed(request)

        def request(scenario: str) -> PaymentRequest:
            if scenario == "not_sent":  # a logon id without the payee's name: Alipay needs it
                return payment(PAYEES["success"], payee_name="")
            return payment(PAYEES[scenario])

        return ConformanceSubject(
            channel=alipay.channel,
            request=request,
            notification=notification,
            unverifiable_scenarios=("bad_sign",),
            refuses_before_sending=True,
            reports_order_not_found=True,
            channel_at=lambda base_url: build_channel(f"{base_url}/gateway.do", timeout_seconds=1),
        )


def test_channel_declares_payouts_to_alipay_and_bank_cards(alipay: Alipay) -> None:
    channel = alipay.channel
    assert (channel.code, channel.pay_methods, channel.currencies) == (
        "alipay_payout",
        {"alipay", "bank"},
        {"CNY"},
    )
    assert channel.ports == {"payment", "query", "notification"}
    assert channel.query_schedule_seconds == (0, 1)


async def test_out_biz_no_is_the_payment_id_and_a_resend_pays_once(alipay: Alipay) -> None:
    assert alipay.channel.payment is not None
    request = payment("someone@example.com")
    first = await alipay.channel.payment.submit(request)
    again = await alipay.channel.payment.submit(request)
    assert first.status is again.status is ChannelStatus.SUCCEEDED
    assert first.channel_ref == again.channel_ref
    assert list(alipay.simulator.transfers) == [request.payment_id]


async def test_bank_card_payout_processes_then_fails_with_alipay_code(alipay: Alipay) -> None:
    assert alipay.channel.payment is not None and alipay.channel.query is not None
    request = payment("dealing_fail_6222020000000001", pay_method="bank", bank=BANK, business_type="B")
    submitted = await alipay.channel.payment.submit(request)
    assert submitted.status is ChannelStatus.PROCESSING
    statuses = [(await alipay.channel.query.query(request, submitted.channel_ref)) for _ in range(3)]
    assert [s.status for s in statuses] == [
        ChannelStatus.PROCESSING,
        ChannelStatus.PROCESSING,
        ChannelStatus.FAILED,
    ]
    assert statuses[-1].code == "PAYEE_CARD_INFO_ERROR"
    sent = alipay.simulator.transfers[request.payment_id].biz_content
    assert sent["product_code"] == "TRANS_BANKCARD_NO_PWD"
    assert sent["payee_info"]["bankcard_ext_info"]["account_type"] == "1"  # B side: corporate


async def test_an_answer_with_a_bad_signature_is_unknown_never_failed(alipay: Alipay) -> None:
    assert alipay.channel.payment is not None and alipay.channel.query is not None
    request = payment("bad_sign@example.com")
    result = await alipay.channel.payment.submit(request)
    assert (result.status, result.code) == (ChannelStatus.UNKNOWN, "BAD_SIGNATURE")
    assert (await alipay.channel.query.query(request, None)).status is ChannelStatus.SUCCEEDED


async def test_a_gateway_refusing_the_connection_means_nothing_was_sent() -> None:
    channel = build_channel(f"http://127.0.0.1:{refused_port()}/gateway.do", timeout_seconds=1)
    assert channel.payment is not None and channel.query is not None and channel.close is not None
    try:
        request = payment("someone@example.com")
        with pytest.raises(RequestNotSent) as unsent:
            await channel.payment.submit(request)
        queried = await channel.query.query(request, None)
    finally:
        await channel.close()
    assert unsent.value.code == "CONNECT_FAILED"
    # a query not sent learnt nothing: unknown, and never "no such order"
    assert (queried.status, queried.code) == (ChannelStatus.UNKNOWN, "CONNECT_FAILED")
    assert not queried.order_not_found


async def test_refusals_that_create_no_order_fail_with_the_sub_code(alipay: Alipay) -> None:
    assert alipay.channel.payment is not None
    alipay.simulator.balance = Money.parse("5.00", "CNY").decimal
    poor = await alipay.channel.payment.submit(payment("someone@example.com", amount="10.00"))
    assert (poor.status, poor.code) == (ChannelStatus.FAILED, "PAYER_BALANCE_NOT_ENOUGH")
    tiny = await alipay.channel.payment.submit(payment("someone@example.com", amount="0.05"))
    assert (tiny.status, tiny.code) == (ChannelStatus.FAILED, "EXCEED_LIMIT_SM_MIN_AMOUNT")


async def test_a_resend_with_other_parameters_is_unknown_until_queried(alipay: Alipay) -> None:
    assert alipay.channel.payment is not None
    request = payment("someone@example.com")
    await alipay.channel.payment.submit(request)
    changed = PaymentRequest(
        request.payment_id,
        "app",
        "alipay",
        Money.parse("11.00", "CNY"),
        None,
        request.payee_account,
        details=request.details,
    )
    result = await alipay.channel.payment.submit(changed)
    assert (result.status, result.code) == (ChannelStatus.UNKNOWN, "PAYMENT_INFO_INCONSISTENCY")


async def test_a_payee_alipay_cannot_identify_fails_before_anything_is_sent(alipay: Alipay) -> None:
    assert alipay.channel.payment is not None
    request = payment("someone@example.com", payee_name="")
    with pytest.raises(RequestNotSent) as unsent:
        await alipay.channel.payment.submit(request)
    assert unsent.value.code == "INVALID_PAYEE"
    assert alipay.simulator.transfers == {}


async def test_exchanges_are_kept_with_the_payee_masked(alipay: Alipay) -> None:
    assert alipay.channel.payment is not None and alipay.channel.query is not None
    request = payment("6222021234567890123", pay_method="bank", bank=BANK)
    submitted = await alipay.channel.payment.submit(request)
    queried = await alipay.channel.query.query(request, None)
    [sent] = submitted.exchanges
    assert sent.operation == TRANSFER_METHOD and sent.response and '"status":"SUCCESS"' in sent.response
    for exchange in (*submitted.exchanges, *queried.exchanges):
        text = exchange.request + (exchange.response or "")
        assert "6222021234567890123" not in text and "张三" not in text
    assert "6222***********0123" in sent.request


async def test_notifications_that_are_not_alipay_genuine_are_rejected(alipay: Alipay) -> None:
    notification = alipay.channel.notification
    assert alipay.channel.payment is not None and notification is not None
    request = payment("someone@example.com")
    await alipay.channel.payment.submit(request)
    genuine = alipay.order_changed(request)
    notice = await notification.verify_notification(FORM, genuine)
    assert (notice.payment_id, notice.result.status, notice.reply_body) == (
        request.payment_id,
        ChannelStatus.SUCCEEDED,
        "success",
    )
    foreign = alipay.order_changed(request, app_id="2021000000000009")
    forger = sign_notification(
        {
            "app_id": SANDBOX_APP_ID,
            "msg_method": ORDER_CHANGED_METHOD,
            "biz_content": encode_biz_content({"out_biz_no": request.payment_id, "status": "FAIL"}),
        },
        generate_private_key(),
    )
    unsigned = genuine.split(b"&sign=")[0]
    for body in (foreign, urlencode(forger).encode(), unsigned, b"", genuine + b"x"):
        with pytest.raises(NotificationRejected):
            await notification.verify_notification(FORM, body)
    with pytest.raises(NotificationRejected):
        await notification.verify_notification({"Content-Type": "application/json"}, genuine)


async def test_a_transfer_returned_after_success_is_a_return_by_query_and_by_message(alipay: Alipay) -> None:
    channel = alipay.channel
    assert channel.payment is not None and channel.query is not None and channel.notification is not None
    request = payment("returned_6222020000000001", pay_method="bank", bank=BANK)
    submitted = await channel.payment.submit(request)
    told = await channel.query.query(request, submitted.channel_ref)
    bounced = await channel.query.query(request, submitted.channel_ref)
    notice = await channel.notification.verify_notification(FORM, alipay.order_changed(request))

    assert (submitted.status, told.status) == (ChannelStatus.SUCCEEDED, ChannelStatus.SUCCEEDED)
    assert (bounced.status, bounced.code, bounced.message) == (
        ChannelStatus.RETURNED,
        "REFUND",
        RETURNED_REASON,
    )
    assert bounced.channel_ref == submitted.channel_ref
    assert notice.result is not None
    assert (notice.payment_id, notice.result.status, notice.result.code) == (
        request.payment_id,
        ChannelStatus.RETURNED,
        "REFUND",
    )
    assert alipay.simulator.balance == DEFAULT_BALANCE  # the money came back

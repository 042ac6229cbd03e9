"""The Ant Lease channel's ports against its simulator on 127.0.0.1: the conformance suite,
notification verification (payments and lease events), and the simulator's scenarios."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from ant_lease_harness import KEYS, SEAL_SIGNER, openapi

from core.money import Money
from plugins.alipay_openapi.notify import sign_notification
from plugins.alipay_openapi.sandbox_keys import load_sandbox_keys
from plugins.alipay_openapi.signing import generate_private_key
from plugins.ant_lease import register_channels
from plugins.ant_lease.adapter import AntLeaseAdapter
from plugins.ant_lease.client import TRADE_STATUS_SYNC
from plugins.ant_lease.sandbox import LeaseSimulator, create_lease_sandbox_app
from plugins.ant_lease.settings import SANDBOX_APP_ID
from plugins.ant_lease.simulator.records import Notice
from ports.channels import (
    Channel,
    ChannelServices,
    ChannelStatus,
    NotificationRejected,
    PaymentRequest,
    SigningRequest,
)
from ports.conformance import ChannelConformance, ConformanceSubject
from ports.lease import (
    CONTRACT_SIGNING,
    LEASE_EXTENSION,
    WITHHOLDING_SIGNING,
    LeaseChannelPort,
    LeaseEventKind,
)

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
AMOUNTS = {"success": "10.00", "failure": "10.45", "unknown": "10.55", "bad_sign": "10.77"}
BUYER = "2088102146225135"


class NoAccounts:
    async def get_accounts(self, ids: object) -> dict[str, object]:
        return {}


@dataclass
class Lease:
    simulator: LeaseSimulator
    server: TestServer
    channel: Channel

    @property
    def adapter(self) -> AntLeaseAdapter:
        assert isinstance(self.channel.payment, AntLeaseAdapter)
        return self.channel.payment

    async def user(self, url: str, decision: str = "confirm") -> tuple[int, dict[str, Any]]:
        """The user opens a signing URL and clicks, through the sandbox's HTTP endpoint."""
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                str(self.server.make_url("/_sandbox/users/sign")), params={"url": url, "decision": decision}
            ) as response,
        ):
            return response.status, await response.json()

    async def agreement(self, buyer: str = BUYER) -> str:
        """A signed withholding agreement of `buyer`: its agreement_no."""
        external = f"LSE{uuid.uuid4().hex[:27].upper()}01"
        page = await self.adapter.start_signing(
            SigningRequest(
                "lse_x", "shop", WITHHOLDING_SIGNING, {"external_agreement_no": external, "buyer_id": buyer}
            )
        )
        assert page.sign_url
        status, shown = await self.user(page.sign_url)
        assert status == 200 and shown["result"] == "signed", shown
        return str(shown["agreement_no"])

    def signed(self, fields: dict[str, str], key: Any = None) -> bytes:
        return urlencode(sign_notification(fields, key or self.simulator.keys.alipay_private_key)).encode()

    def take(self) -> list[Notice]:
        notices, self.simulator.pending = self.simulator.pending, []
        return notices


def lease_channel(gateway_url: str, timeout_seconds: float = 5) -> Channel:
    settings = {
        "ant_lease": {
            "openapi": openapi(gateway_url, timeout_seconds=timeout_seconds),
            "query_schedule_seconds": [0],
            **SEAL_SIGNER,
        }
    }
    [channel] = register_channels(settings=settings, services=ChannelServices(NoAccounts()))
    return channel


@pytest.fixture
async def lease() -> AsyncIterator[Lease]:
    simulator = LeaseSimulator(
        load_sandbox_keys(KEYS, SANDBOX_APP_ID), default_notify_url="http://127.0.0.1:9/cb"
    )
    server = TestServer(create_lease_sandbox_app(simulator), host="127.0.0.1")
    await server.start_server()
    simulator.base_url = str(server.make_url("")).rstrip("/")
    channel = lease_channel(str(server.make_url("/gateway.do")))
    yield Lease(simulator, server, channel)
    if channel.close is not None:
        await channel.close()
    await server.close()


def deduction(agreement_no: str, amount: str) -> PaymentRequest:
    return PaymentRequest(
        f"pay_{uuid.uuid4().hex[:27]}",
        "shop",
        "withholding",
        Money.parse(amount, "CNY"),
        BUYER,
        None,
        details={"agreement_no": agreement_no, "subject": "rent"},
    )


class TestAntLeaseConformance(ChannelConformance):
    @pytest.fixture
    async def subject(self, lease: Lease) -> ConformanceSubject:
        agreement_no = await lease.agreement()

        async def notification(
            request: PaymentRequest, status: ChannelStatus
        ) -> tuple[dict[str, str], bytes]:
            trade = lease.simulator.trades.get(request.payment_id)
            fields = {
                "app_id": SANDBOX_APP_ID,
                "charset": "utf-8",
                "notify_type": TRADE_STATUS_SYNC,
                "notify_id": uuid.uuid4().hex,
                "notify_time": "2026-03-01 10:00:00",
                "out_trade_no": request.payment_id,
                "trade_no": trade.trade_no if trade else "2026030122880001",
                "trade_status": "TRADE_SUCCESS" if status is ChannelStatus.SUCCEEDED else "TRADE_CLOSED",
                "total_amount": str(request.amount),
            }
            return FORM, lease.signed(fields)

        def request(scenario: str) -> PaymentRequest:
            if scenario == "not_sent":  # no withholding agreement to deduct under
                return deduction("", AMOUNTS["success"])
            return deduction(agreement_no, AMOUNTS[scenario])

        return ConformanceSubject(
            channel=lease.channel,
            request=request,
            notification=notification,
            unverifiable_scenarios=("bad_sign",),
            refuses_before_sending=True,
            reports_order_not_found=True,
            channel_at=lambda base_url: lease_channel(f"{base_url}/gateway.do", timeout_seconds=1),
        )


# -- what the channel declares -----------------------------------------------------------------
def test_the_channel_offers_every_port_and_the_lease_operations(lease: Lease) -> None:
    assert lease.channel.ports == {"signing", "payment", "query", "notification"}
    assert lease.channel.pay_methods == {"withholding"}
    assert isinstance(lease.channel.extensions[LEASE_EXTENSION], LeaseChannelPort)


async def test_the_channel_cancels_a_deduction_left_unknown_so_it_is_never_paid(lease: Lease) -> None:
    """The CancelPort an operator's resolution uses (issue 11 item 4): a trade.pay whose answer
    stays unknown is closed at the simulator, a later resend is refused, and a paid trade
    cancelled is refunded (a FAILED deduction: the rent was not collected)."""
    assert lease.channel.cancel is lease.adapter
    agreement_no = await lease.agreement()
    stuck, paid = deduction(agreement_no, "10.88"), deduction(agreement_no, "10.55")
    first = await lease.adapter.submit(stuck)
    queried = await lease.adapter.query(stuck, None)

    retry = await lease.channel.cancel.cancel(stuck, None)
    closed = await lease.channel.cancel.cancel(stuck, None)
    resent = await lease.adapter.submit(stuck)
    await lease.adapter.submit(paid)
    refunded = await lease.channel.cancel.cancel(paid, None)

    assert (first.status, queried.status) == (ChannelStatus.UNKNOWN, ChannelStatus.PROCESSING)
    assert (retry.status, retry.code) == (ChannelStatus.UNKNOWN, "TRADE_CANCEL_RETRY")
    assert (closed.status, closed.code) == (ChannelStatus.FAILED, "TRADE_CANCEL_CLOSED")
    assert (resent.status, resent.code) == (ChannelStatus.FAILED, "TRADE_HAS_CLOSE")
    assert lease.simulator.trades[stuck.payment_id].gmt_payment is None, "never paid"
    assert (refunded.status, refunded.code) == (ChannelStatus.FAILED, "TRADE_CANCEL_REFUNDED")
    assert lease.simulator.trades[paid.payment_id].status.value == "TRADE_CLOSED"


def test_no_settings_no_channel() -> None:
    assert register_channels(settings={}, services=ChannelServices(NoAccounts())) == []


# -- notifications ---------------------------------------------------------------------------
async def test_agreement_and_contract_notifications_become_lease_events(lease: Lease) -> None:
    agreement_no = await lease.agreement()
    [signed] = lease.take()
    notice = await lease.adapter.verify_notification(FORM, lease.signed(signed.fields))
    assert notice.payment_id is None and notice.event is not None and notice.reply_body == "success"
    assert notice.event.kind == LeaseEventKind.AGREEMENT_SIGNED
    assert notice.event.data["agreement_no"] == agreement_no and notice.event.data["alipay_user_id"] == BUYER

    unsign = lease.adapter.product.unsign_biz(agreement_no, None)
    assert (await lease.adapter.client().execute("alipay.user.agreement.unsign", unsign)).is_success
    [unsigned] = lease.take()
    notice = await lease.adapter.verify_notification(FORM, lease.signed(unsigned.fields))
    assert notice.event is not None and notice.event.kind == LeaseEventKind.AGREEMENT_UNSIGNED


async def test_contract_signature_notifications_name_the_order_party_and_outcome(lease: Lease) -> None:
    created = await lease.adapter.client().execute(
        "alipay.commerce.rent.order.create",
        {
            "out_order_id": "lse_c1",
            "buyer_id": "2088000000000401",
            "title": "t",
            "item_infos": [{"out_item_id": "o1", "item_name": "t", "item_cnt": 1}],
            "price_info": {"order_price": "1.00"},
            "rent_plan_info": {
                "rent_start_time": "2026-03-01 00:00:00",
                "rent_end_time": "2026-03-01 23:59:59",
                "installments": [
                    {"installment_no": 1, "installment_price": "1.00", "plan_pay_time": "2026-03-01 00:00:00"}
                ],
            },
        },
    )
    started = await lease.adapter.start_signing(
        SigningRequest(
            "lse_c1",
            "shop",
            CONTRACT_SIGNING,
            {"template_id": "TPL_LEASE_STD", "channel_order_id": created.get("order_id")},
        )
    )
    assert started.sign_url
    status, shown = await lease.user(started.sign_url)  # buyer ...0401 refuses whatever is clicked
    assert status == 200 and shown["result"] == "refused"
    [refused] = lease.take()
    notice = await lease.adapter.verify_notification(FORM, lease.signed(refused.fields))
    assert notice.event is not None and notice.event.kind == LeaseEventKind.CONTRACT_SIGNATURE
    assert notice.event.data == {
        "order_id": "lse_c1",
        "channel_order_id": lease.simulator.orders["lse_c1"].order_id,
        "contract_no": started.agreement_ref,
        "party": "lessee",
        "status": "refused",
    }


async def test_forged_foreign_and_unknown_notifications_are_rejected(lease: Lease) -> None:
    await lease.agreement()
    [signed] = lease.take()
    forged = lease.signed(signed.fields, generate_private_key())
    foreign = lease.signed({**signed.fields, "app_id": "2021000000000001"})
    unknown_kind = lease.signed({**signed.fields, "notify_type": "trade_refund"})
    not_normal = lease.signed({**signed.fields, "status": "TEMP"})
    unsigned = urlencode(signed.fields).encode()
    for body in (forged, foreign, unknown_kind, not_normal, unsigned):
        with pytest.raises(NotificationRejected):
            await lease.adapter.verify_notification(FORM, body)
    with pytest.raises(NotificationRejected):
        await lease.adapter.verify_notification(
            {"Content-Type": "application/json"}, lease.signed(signed.fields)
        )


# -- the simulator's scenarios -----------------------------------------------------------------
async def test_the_withholding_page_can_be_refused_or_expired(lease: Lease) -> None:
    def page(buyer: str) -> SigningRequest:
        external = f"LSE{uuid.uuid4().hex[:27].upper()}01"
        return SigningRequest(
            "lse_x", "shop", WITHHOLDING_SIGNING, {"external_agreement_no": external, "buyer_id": buyer}
        )

    refused = await lease.adapter.start_signing(page(BUYER))
    assert refused.sign_url
    status, shown = await lease.user(refused.sign_url, "refuse")
    assert (status, shown["result"]) == (200, "refused")
    for buyer, result in (("2088000000000403", "refused"), ("2088000000000404", "expired")):
        started = await lease.adapter.start_signing(page(buyer))
        assert started.sign_url
        status, shown = await lease.user(started.sign_url)
        assert (status, shown["result"]) == (200, result)
    assert lease.simulator.agreements == {} and lease.take() == []
    after = await lease.adapter.query_signing(page(BUYER))
    assert (after.status, after.code) == (ChannelStatus.PROCESSING, "NOT_SIGNED")


async def test_a_tampered_signing_url_is_refused_by_the_gateway(lease: Lease) -> None:
    external = f"LSE{uuid.uuid4().hex[:27].upper()}01"
    page = await lease.adapter.start_signing(
        SigningRequest(
            "lse_x", "shop", WITHHOLDING_SIGNING, {"external_agreement_no": external, "buyer_id": BUYER}
        )
    )
    assert page.sign_url
    status, shown = await lease.user(page.sign_url.replace(external, external[:-2] + "99"))
    assert status == 400 and shown["error"]["sub_code"] == "isv.invalid-signature"
    assert lease.simulator.agreements == {}


async def test_a_deduction_may_be_processing_until_a_query(lease: Lease) -> None:
    request = deduction(await lease.agreement(), "10.66")
    answer = await lease.adapter.submit(request)
    first, second = await lease.adapter.query(request, None), await lease.adapter.query(request, None)
    assert answer.status is ChannelStatus.PROCESSING and answer.channel_ref
    assert (first.status, second.status) == (ChannelStatus.PROCESSING, ChannelStatus.SUCCEEDED)


async def test_a_deduction_under_an_unsigned_agreement_is_refused(lease: Lease) -> None:
    agreement_no = await lease.agreement()
    unsign = lease.adapter.product.unsign_biz(agreement_no, None)
    await lease.adapter.client().execute("alipay.user.agreement.unsign", unsign)
    result = await lease.adapter.submit(deduction(agreement_no, "10.00"))
    assert (result.status, result.code) == (ChannelStatus.FAILED, "AGREEMENT_STATUS_NOT_NORMAL")
    missing = await lease.adapter.submit(deduction("2026000000000000", "10.00"))
    assert (missing.status, missing.code) == (ChannelStatus.FAILED, "AGREEMENT_NOT_EXIST")


async def test_notifications_are_delivered_until_acknowledged(lease: Lease, aiohttp_server: Any) -> None:
    from aiohttp import web

    received: list[dict[str, str]] = []

    async def gateway(request: web.Request) -> web.Response:
        received.append(dict(await request.post()))  # type: ignore[arg-type]
        return web.Response(text="success" if len(received) > 1 else "busy")

    app = web.Application()
    app.router.add_post("/cb", gateway)
    server = await aiohttp_server(app)
    lease.simulator.default_notify_url = str(server.make_url("/cb"))
    await lease.agreement()
    async with aiohttp.ClientSession() as session:
        [first] = await lease.simulator.deliver_notifications(session)
        [second] = await lease.simulator.deliver_notifications(session)
        assert await lease.simulator.deliver_notifications(session) == []
    assert (first.acknowledged, second.acknowledged) == (False, True)
    assert received[0]["notify_type"] == "dut_user_sign" and received[0] == received[1]

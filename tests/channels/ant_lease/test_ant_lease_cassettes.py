"""The Ant Lease adapter against recorded sandbox answers (cassettes/ant_lease): the pre-order,
contract pre-signing and 落签, the withholding agreement, deductions, plan and close."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ant_lease_harness import T0, User, order, synced

from core.lease.order import LeaseOrder
from core.lease.parts import UnsignRefusal
from core.lease.status import AsyncUnsignOperation, CancelReason
from core.money import Money
from plugins.ant_lease.adapter import AntLeaseAdapter
from ports.channels import ChannelStatus, PaymentRequest, SigningRequest
from ports.lease import CONTRACT_SIGNING, ORDER_FULL_INFO, WITHHOLDING_SIGNING

Cassette = tuple[AntLeaseAdapter, User]


def withholding(o: LeaseOrder, agreement_no: str | None = None) -> SigningRequest:
    _, external = o.next_agreement_attempt()
    return SigningRequest(
        o.id, "shop", WITHHOLDING_SIGNING, {"external_agreement_no": external, "agreement_no": agreement_no}
    )


async def signed_agreement(adapter: AntLeaseAdapter, user: User, o: LeaseOrder) -> str:
    page = await adapter.start_signing(withholding(o))
    assert page.sign_url
    await user.sign(page.sign_url)
    result = await adapter.query_signing(withholding(o))
    assert result.status is ChannelStatus.SUCCEEDED and result.agreement_ref, result
    return result.agreement_ref


def deduction(o: LeaseOrder, payment_id: str, amount: str, agreement_no: str, no: int = 1) -> PaymentRequest:
    details: dict[str, Any] = {
        "agreement_no": agreement_no,
        "channel_order_id": o.channel_order_id,
        "installment_no": no,
        "subject": f"{o.title} {no}/2",
    }
    return PaymentRequest(
        payment_id, "shop", "withholding", Money.parse(amount, "CNY"), o.buyer_id, None, details=details
    )


async def test_pre_order_is_created_and_its_full_info_queried(cassette: Cassette) -> None:
    adapter, _ = cassette
    o = await synced(adapter, order("lse_0195f2a3b4c5d6e7f8091a2b3c1"))

    info = await adapter.query_order(o, ORDER_FULL_INFO)

    assert info.status is ChannelStatus.SUCCEEDED
    assert info.data["out_order_id"] == o.id and info.data["order_id"] == o.channel_order_id
    assert info.data["query_options"] == [ORDER_FULL_INFO]
    plan = info.data["rent_plan_info"]["installments"]
    assert [(i["installment_no"], i["installment_price"], i["status"]) for i in plan] == [
        (1, "100.00", "UNPAID"),
        (2, "100.00", "UNPAID"),
    ]
    assert plan[0]["plan_pay_time"] == "2026-03-01 00:00:00"


async def test_repeating_a_pre_order_returns_the_same_channel_order(cassette: Cassette) -> None:
    adapter, _ = cassette
    o = order("lse_0195f2a3b4c5d6e7f8091a2b3c2")
    first, again = await adapter.sync_order(o), await adapter.sync_order(o)
    assert first.status is again.status is ChannelStatus.SUCCEEDED
    assert first.data["channel_order_id"] == again.data["channel_order_id"]
    changed = await adapter.sync_order(replace(o, title="another title"))
    assert (changed.status, changed.code) == (ChannelStatus.FAILED, "ORDER_INFO_INCONSISTENT")


async def test_a_pre_order_for_an_unknown_buyer_is_refused(cassette: Cassette) -> None:
    adapter, _ = cassette
    answer = await adapter.sync_order(order("lse_0195f2a3b4c5d6e7f8091a2b3c3", buyer_id="2088000000000400"))
    assert (answer.status, answer.code) == (ChannelStatus.FAILED, "BUYER_NOT_EXIST")
    assert answer.exchanges and "2088********0400" in answer.exchanges[0].request


async def test_multi_party_contract_is_presigned_signed_by_all_and_sealed(cassette: Cassette) -> None:
    adapter, user = cassette
    o = await synced(adapter, order("lse_0195f2a3b4c5d6e7f8091a2b3c4"))
    request = SigningRequest(
        o.id,
        "shop",
        CONTRACT_SIGNING,
        {"template_id": "TPL_LEASE_GUARANTEED", "channel_order_id": o.channel_order_id},
    )

    started = await adapter.start_signing(request)
    assert started.status is ChannelStatus.PROCESSING and started.agreement_ref
    signers = started.raw["signers"]
    assert [s["party"] for s in signers] == ["lessee", "guarantor"]
    assert started.sign_url == signers[0]["sign_url"]
    await user.sign(signers[0]["sign_url"])
    halfway = await adapter.query_signing(request)
    await user.sign(signers[1]["sign_url"])
    done = await adapter.query_signing(request)
    sealed = await adapter.finalise_contract(
        replace(o, contract=replace(o.contract, contract_no=started.agreement_ref))
    )
    info = await adapter.query_order(o, ORDER_FULL_INFO)

    assert (halfway.status, halfway.code) == (ChannelStatus.PROCESSING, "SIGNING")
    assert done.status is ChannelStatus.SUCCEEDED and done.agreement_ref == started.agreement_ref
    assert sealed.status is ChannelStatus.SUCCEEDED and sealed.data["sign_flow_id"]
    assert sealed.data["biz_no"] == started.agreement_ref
    assert "110101199001010011" not in sealed.exchanges[-1].request  # the signer's id is masked
    assert (info.data["status"], info.data["ec_sign_apply_infos"][0]["status"]) == ("RENTING", "SEALED")


async def test_an_unknown_contract_template_is_refused(cassette: Cassette) -> None:
    adapter, _ = cassette
    o = await synced(adapter, order("lse_0195f2a3b4c5d6e7f8091a2b3c5"))
    result = await adapter.start_signing(
        SigningRequest(
            o.id,
            "shop",
            CONTRACT_SIGNING,
            {"template_id": "TPL_NOPE", "channel_order_id": o.channel_order_id},
        )
    )
    assert (result.status, result.code) == (ChannelStatus.FAILED, "CONTRACT_TEMPLATE_NOT_EXIST")


async def test_withholding_is_signed_by_the_user_queried_and_unsigned(cassette: Cassette) -> None:
    adapter, user = cassette
    o = order("lse_0195f2a3b4c5d6e7f8091a2b3c6")

    page = await adapter.start_signing(withholding(o))
    before = await adapter.query_signing(withholding(o))
    assert page.sign_url
    await user.sign(page.sign_url)
    after = await adapter.query_signing(withholding(o))
    assert after.agreement_ref
    o = replace(o, agreement=replace(o.agreement, agreement_no=after.agreement_ref))
    unsigned = await adapter.unsign_agreement(o, "lease returned")
    ended = await adapter.query_signing(withholding(o, after.agreement_ref))

    assert page.status is ChannelStatus.PROCESSING and "alipay.user.agreement.page.sign" in page.sign_url
    assert (before.status, before.code) == (ChannelStatus.PROCESSING, "NOT_SIGNED")
    assert after.status is ChannelStatus.SUCCEEDED and after.raw["status"] == "NORMAL"
    assert unsigned.status is ChannelStatus.SUCCEEDED
    assert (ended.status, ended.code) == (ChannelStatus.FAILED, "UNSIGN")


async def test_an_async_unsign_refusal_keeps_the_agreement(cassette: Cassette) -> None:
    adapter, user = cassette
    o = order("lse_0195f2a3b4c5d6e7f8091a2b3c7")
    agreement_no = await signed_agreement(adapter, user, o)
    o = replace(o, agreement=replace(o.agreement, agreement_no=agreement_no))
    refusal = UnsignRefusal(
        AsyncUnsignOperation.REFUSE, "客服小王", Money.parse("99.00", "CNY"), "用户尚有欠款", T0
    )

    answer = await adapter.confirm_async_unsign(o, refusal)
    still = await adapter.query_signing(withholding(o, agreement_no))

    assert answer.status is ChannelStatus.SUCCEEDED
    assert still.status is ChannelStatus.SUCCEEDED and still.raw["status"] == "NORMAL"


async def test_a_deduction_succeeds_and_marks_the_installment_paid(cassette: Cassette) -> None:
    adapter, user = cassette
    o = await synced(adapter, order("lse_0195f2a3b4c5d6e7f8091a2b3c8"))
    agreement_no = await signed_agreement(adapter, user, o)

    result = await adapter.submit(deduction(o, "pay_cassette_success_1", "100.00", agreement_no))
    info = await adapter.query_order(o, ORDER_FULL_INFO)

    assert result.status is ChannelStatus.SUCCEEDED and result.channel_ref
    [paid] = info.data["rent_pay_infos"]
    assert (paid["installment_no"], paid["trade_no"], paid["pay_amount"]) == (1, result.channel_ref, "100.00")


async def test_a_deduction_failing_for_balance_succeeds_on_the_next_attempt(cassette: Cassette) -> None:
    adapter, user = cassette
    o = order("lse_0195f2a3b4c5d6e7f8091a2b3c9", amounts=("100.44", "100.00"))
    agreement_no = await signed_agreement(adapter, user, o)

    first = await adapter.submit(deduction(o, "pay_cassette_retry_1", "100.44", agreement_no))
    resent = await adapter.submit(deduction(o, "pay_cassette_retry_1", "100.44", agreement_no))
    second = await adapter.submit(deduction(o, "pay_cassette_retry_2", "100.44", agreement_no))

    assert (first.status, first.code) == (ChannelStatus.FAILED, "BUYER_BALANCE_NOT_ENOUGH")
    assert (resent.status, resent.code) == (ChannelStatus.FAILED, "BUYER_BALANCE_NOT_ENOUGH"), "same attempt"
    assert second.status is ChannelStatus.SUCCEEDED


async def test_a_system_error_is_unknown_and_a_query_finds_the_deduction_paid(cassette: Cassette) -> None:
    adapter, user = cassette
    o = order("lse_0195f2a3b4c5d6e7f8091a2b3ca", amounts=("100.55", "100.00"))
    agreement_no = await signed_agreement(adapter, user, o)
    request = deduction(o, "pay_cassette_unknown_1", "100.55", agreement_no)

    answer = await adapter.submit(request)
    resolved = await adapter.query(request, None)

    assert (answer.status, answer.code) == (ChannelStatus.UNKNOWN, "SYSTEM_ERROR")
    assert resolved.status is ChannelStatus.SUCCEEDED and resolved.channel_ref


async def test_a_query_of_a_deduction_never_made_is_not_a_failure(cassette: Cassette) -> None:
    adapter, _ = cassette
    o = order("lse_0195f2a3b4c5d6e7f8091a2b3cb")
    result = await adapter.query(deduction(o, "pay_cassette_never_sent", "100.00", "none"), None)
    assert (result.status, result.code) == (ChannelStatus.UNKNOWN, "TRADE_NOT_EXIST")


async def test_the_plan_is_cancelled_for_lease_to_sale_and_the_order_closed(cassette: Cassette) -> None:
    adapter, _ = cassette
    o = await synced(adapter, order("lse_0195f2a3b4c5d6e7f8091a2b3cc"))

    cancelled = await adapter.cancel_plan(o, CancelReason.LEASE_TO_SALE, "用户买断")
    o = o.plan_cancelled(CancelReason.LEASE_TO_SALE, "用户买断", T0)
    closed = await adapter.close_order(o, "租转售完成")
    info = await adapter.query_order(o, ORDER_FULL_INFO)

    assert cancelled.status is closed.status is ChannelStatus.SUCCEEDED
    assert info.data["status"] == "CLOSED"
    assert info.data["close_info"]["reason_code"] == "LEASE_TO_SALE"
    assert info.data["plan_info"] == {
        "status": "CANCELLED",
        "reason_code": "LEASE_TO_SALE",
        "reason_desc": "用户买断",
    }
    assert {i["status"] for i in info.data["rent_plan_info"]["installments"]} == {"CANCELLED"}


async def test_an_unknown_deduction_is_cancelled_closed_or_refunded(cassette: Cassette) -> None:
    adapter, user = cassette
    o = order("lse_0195f2a3b4c5d6e7f8091a2b3cd", amounts=("100.66", "100.55"))
    agreement_no = await signed_agreement(adapter, user, o)
    waiting = deduction(o, "pay_cassette_cancel_wait", "100.66", agreement_no)
    paid_unknown = deduction(o, "pay_cassette_cancel_paid", "100.55", agreement_no, no=2)

    first = await adapter.submit(waiting)
    closed = await adapter.cancel(waiting, first.channel_ref)
    resent = await adapter.submit(waiting)
    unknown = await adapter.submit(paid_unknown)
    refunded = await adapter.cancel(paid_unknown, None)
    queried = await adapter.query(paid_unknown, None)

    assert first.status is ChannelStatus.PROCESSING
    assert (closed.status, closed.code) == (ChannelStatus.FAILED, "TRADE_CANCEL_CLOSED")
    assert closed.channel_ref == first.channel_ref and closed.exchanges[0].operation == "alipay.trade.cancel"
    assert (resent.status, resent.code) == (ChannelStatus.FAILED, "TRADE_HAS_CLOSE"), "never paid later"
    assert unknown.status is ChannelStatus.UNKNOWN
    assert (refunded.status, refunded.code) == (ChannelStatus.FAILED, "TRADE_CANCEL_REFUNDED")
    assert queried.status is ChannelStatus.FAILED, "a refunded trade is closed"


async def test_a_cancel_asked_to_retry_is_unknown_and_a_cancelled_request_is_never_paid(
    cassette: Cassette,
) -> None:
    adapter, user = cassette
    o = order("lse_0195f2a3b4c5d6e7f8091a2b3ce", amounts=("100.88", "100.00"))
    agreement_no = await signed_agreement(adapter, user, o)
    stuck = deduction(o, "pay_cassette_cancel_stuck", "100.88", agreement_no)
    never_arrived = deduction(o, "pay_cassette_cancel_lost", "100.00", agreement_no, no=2)

    answer = await adapter.submit(stuck)
    retry = await adapter.cancel(stuck, None)
    again = await adapter.cancel(stuck, None)
    lost = await adapter.cancel(never_arrived, None)
    late = await adapter.submit(never_arrived)

    assert (answer.status, answer.code) == (ChannelStatus.UNKNOWN, "SYSTEM_ERROR")
    assert (retry.status, retry.code) == (ChannelStatus.UNKNOWN, "TRADE_CANCEL_RETRY")
    assert (again.status, again.code) == (ChannelStatus.FAILED, "TRADE_CANCEL_CLOSED")
    assert (lost.status, lost.code) == (ChannelStatus.FAILED, "TRADE_CANCEL_NO_TRADE")
    assert (late.status, late.code) == (ChannelStatus.FAILED, "TRADE_HAS_CLOSE")

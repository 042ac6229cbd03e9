"""Payout client against recorded sandbox answers: every outcome the channel must tell apart."""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest
from alipay_payout_harness import RECORDING, REPLAY_GATEWAY, payout_vcr, sandbox_settings

from plugins.alipay_openapi.client import AlipayClient
from plugins.alipay_openapi.codes import SubCodeClass
from plugins.alipay_openapi.errors import ResponseSignatureError, UnknownOutcomeError
from plugins.alipay_openapi.signing import generate_private_key, public_key_pem
from plugins.alipay_payout.client import (
    BankAccountType,
    BankcardExtInfo,
    IdentityType,
    Payee,
    ProductCode,
    TransferOrder,
    TransferQuery,
    TransferStatus,
    query_transfer,
    transfer,
)


def _order(out_biz_no: str, identity: str, amount: str = "12.30") -> TransferOrder:
    return TransferOrder(
        out_biz_no=out_biz_no,
        trans_amount=Decimal(amount),
        payee=Payee(identity, IdentityType.ALIPAY_LOGON_ID, name="张三"),
        order_title="投诉赔款-同程承担",
        remark="complaint compensation",
    )


async def test_transfer_to_an_alipay_account_succeeds(cassette_client: AlipayClient) -> None:
    result = await transfer(cassette_client, _order("PO-SUCCESS-0001", "alice@example.com"))

    assert result.accepted
    assert result.status is TransferStatus.SUCCESS
    assert result.out_biz_no == "PO-SUCCESS-0001"
    assert result.order_id and result.pay_fund_order_id
    assert result.trans_date is not None and result.trans_date.tzinfo is not None


async def test_dealing_transfer_succeeds_after_queries(cassette_client: AlipayClient) -> None:
    order = _order("PO-DEALING-0001", "dealing.bob@example.com")

    accepted = await transfer(cassette_client, order)
    statuses = [
        (await query_transfer(cassette_client, TransferQuery.for_order(order))).status for _ in range(3)
    ]

    assert accepted.status is TransferStatus.DEALING
    assert statuses == [TransferStatus.DEALING, TransferStatus.DEALING, TransferStatus.SUCCESS]


async def test_final_query_reports_amount_and_pay_date(cassette_client: AlipayClient) -> None:
    order = _order("PO-QUERY-0001", "carol@example.com", "0.10")
    accepted = await transfer(cassette_client, order)
    assert accepted.order_id is not None

    by_order_id = await query_transfer(cassette_client, TransferQuery.by_order_id(accepted.order_id))

    assert by_order_id.status is TransferStatus.SUCCESS
    assert by_order_id.trans_amount == Decimal("0.10")
    assert by_order_id.pay_date is not None
    assert by_order_id.out_biz_no == "PO-QUERY-0001"


async def test_payee_not_exist_is_a_permanent_failure(cassette_client: AlipayClient) -> None:
    result = await transfer(cassette_client, _order("PO-NOPAYEE-0001", "payee_not_exist@x.com"))

    assert not result.accepted
    assert result.status is None
    assert (result.code, result.sub_code) == ("40004", "PAYEE_NOT_EXIST")
    assert result.classification is SubCodeClass.PERMANENT


async def test_insufficient_balance_is_reported_as_insufficient_funds(
    cassette_client: AlipayClient,
) -> None:
    result = await transfer(cassette_client, _order("PO-BALANCE-0001", "dave@example.com", "2000000.00"))

    assert result.sub_code == "PAYER_BALANCE_NOT_ENOUGH"
    assert result.classification is SubCodeClass.INSUFFICIENT_FUNDS


async def test_system_error_then_query_reveals_the_transfer(
    cassette_client: AlipayClient,
) -> None:
    order = _order("PO-SYSERR-0001", "system_error.erin@example.com")

    answered = await transfer(cassette_client, order)
    found = await query_transfer(cassette_client, TransferQuery.for_order(order))

    assert answered.sub_code == "SYSTEM_ERROR"
    assert answered.classification is SubCodeClass.UNKNOWN_OUTCOME
    assert found.found and found.status is TransferStatus.SUCCESS
    assert found.out_biz_no == "PO-SYSERR-0001"


async def test_bank_card_returned_after_success_queries_as_refund(cassette_client: AlipayClient) -> None:
    order = TransferOrder(
        out_biz_no="PO-RETURNED-0001",
        trans_amount=Decimal("88.00"),
        payee=Payee(
            "returned_6222020000000001",
            IdentityType.BANKCARD_ACCOUNT,
            name="张三",
            bankcard_ext_info=BankcardExtInfo(BankAccountType.PERSONAL, inst_name="招商银行"),
        ),
        order_title="退余款",
    )

    paid = await transfer(cassette_client, order)
    told = await query_transfer(cassette_client, TransferQuery.for_order(order))
    returned = await query_transfer(cassette_client, TransferQuery.for_order(order))

    assert (paid.status, told.status) == (TransferStatus.SUCCESS, TransferStatus.SUCCESS)
    assert returned.status is TransferStatus.REFUND and returned.raw_status == "REFUND"
    assert returned.fail_reason and returned.pay_date is not None
    assert returned.pay_fund_order_id == paid.pay_fund_order_id
    assert returned.trans_amount == Decimal("88.00")


async def test_bad_response_signature_is_an_unknown_outcome(
    cassette_client: AlipayClient,
) -> None:
    order = _order("PO-BADSIGN-0001", "bad_sign.frank@example.com")

    with pytest.raises(ResponseSignatureError) as caught:
        await transfer(cassette_client, order)
    found = await query_transfer(cassette_client, TransferQuery.for_order(order))

    assert isinstance(caught.value, UnknownOutcomeError)
    assert found.status is TransferStatus.SUCCESS  # the unverifiable "success" was real


async def test_resending_the_same_out_biz_no_returns_the_same_order(
    cassette_client: AlipayClient,
) -> None:
    order = _order("PO-RESEND-0001", "grace@example.com")

    first = await transfer(cassette_client, order)
    again = await transfer(cassette_client, order)

    assert first.status is again.status is TransferStatus.SUCCESS
    assert (again.order_id, again.pay_fund_order_id) == (first.order_id, first.pay_fund_order_id)


async def test_resend_with_other_params_is_payment_info_inconsistency(
    cassette_client: AlipayClient,
) -> None:
    await transfer(cassette_client, _order("PO-RESEND-0002", "heidi@example.com", "5.00"))

    changed = await transfer(cassette_client, _order("PO-RESEND-0002", "heidi@example.com", "6.00"))

    assert changed.sub_code == "PAYMENT_INFO_INCONSISTENCY"
    assert changed.classification is SubCodeClass.PERMANENT


async def test_query_of_an_unknown_order_is_not_a_failure(cassette_client: AlipayClient) -> None:
    result = await query_transfer(
        cassette_client,
        TransferQuery.by_out_biz_no("PO-NEVER-SENT-0001", ProductCode.TRANS_ACCOUNT_NO_PWD),
    )

    assert not result.found
    assert result.status is None  # neither FAIL nor anything else
    assert result.sub_code == "ORDER_NOT_EXIST"
    assert result.classification is SubCodeClass.UNKNOWN_OUTCOME


async def test_bank_card_transfer_can_fail_after_dealing(cassette_client: AlipayClient) -> None:
    order = TransferOrder(
        out_biz_no="PO-CARD-0001",
        trans_amount=Decimal("88.00"),
        payee=Payee(
            "dealing_fail-6222020000000000",
            IdentityType.BANKCARD_ACCOUNT,
            name="上海某某航空服务有限公司",
            bankcard_ext_info=BankcardExtInfo(
                BankAccountType.CORPORATE,
                inst_name="招商银行",
                inst_province="上海",
                inst_city="上海",
                inst_branch_name="招商银行上海分行营业部",
            ),
        ),
        order_title="改签向航空公司打款",
    )

    accepted = await transfer(cassette_client, order)
    results = [await query_transfer(cassette_client, TransferQuery.for_order(order)) for _ in range(3)]

    assert order.product_code is ProductCode.TRANS_BANKCARD_NO_PWD
    assert accepted.status is TransferStatus.DEALING
    assert [r.status for r in results] == [
        TransferStatus.DEALING,
        TransferStatus.DEALING,
        TransferStatus.FAIL,
    ]
    assert results[-1].error_code == "PAYEE_CARD_INFO_ERROR"
    assert results[-1].fail_reason


@pytest.mark.skipif(RECORDING, reason="checks replay, not recording")
async def test_replayed_answers_are_verified_with_the_sandbox_public_key() -> None:
    impostor = public_key_pem(generate_private_key().public_key())
    settings = sandbox_settings(REPLAY_GATEWAY, alipay_public_key=impostor)

    with payout_vcr.use_cassette("transfer_to_an_alipay_account_succeeds.yaml"):
        async with aiohttp.ClientSession() as session:
            with pytest.raises(ResponseSignatureError):
                await transfer(
                    AlipayClient(settings, session), _order("PO-SUCCESS-0001", "alice@example.com")
                )

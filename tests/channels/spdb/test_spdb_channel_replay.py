"""The SPDB client against the sandbox, one scenario each, replayed from cassettes/spdb."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from plugins.spdb.client import SpdbClient
from plugins.spdb.errors import (
    BadSignature,
    BankSystemError,
    MalformedAnswer,
    OutcomeUnknown,
    UnlistedRefusal,
    UnsignedAnswer,
)
from plugins.spdb.messages import (
    AnswerStatus,
    PaymentQuery,
    PaymentResult,
    RemitLocation,
    SinglePayment,
    SysFlag,
)
from ports.channels import ChannelStatus

PROCESSING_POLLS = 2  # as the recording sandbox was configured (see conftest)


def payment(elec_cheque_no: str, suffix: str, amount: str = "1234.50") -> SinglePayment:
    """A payment whose payee account ends in `suffix`, which picks the sandbox scenario."""
    return SinglePayment(
        elec_cheque_no=elec_cheque_no,
        payee_acct_no=f"622516010012{suffix}",
        payee_name="张三镕",
        amount=Decimal(amount),
        note="借款单JK20240520001",
    )


async def result_of(spdb: SpdbClient, elec_cheque_no: str) -> PaymentResult:
    answer = await spdb.query_8804(PaymentQuery(elec_cheque_no=elec_cheque_no))
    result = answer.for_cheque(elec_cheque_no)
    assert result is not None, f"8804 does not list {elec_cheque_no}"
    return result


async def test_payment_is_accepted_then_succeeds_on_the_first_query(spdb: SpdbClient) -> None:
    answer = await spdb.pay_8801(payment("EC1", "0946"))
    assert answer.status is AnswerStatus.ACCEPTED
    assert answer.accept_no and answer.return_code == "AAAAAAA"
    assert answer.channel_status is ChannelStatus.PROCESSING
    result = await result_of(spdb, "EC1")
    assert result.status is ChannelStatus.SUCCEEDED
    assert (result.trans_status, result.amount, result.payee_name) == ("4", Decimal("1234.50"), "张三镕")
    assert result.accept_no == answer.accept_no
    assert result.refusal_reason is None


async def test_payment_stays_processing_for_some_queries_then_succeeds(spdb: SpdbClient) -> None:
    await spdb.pay_8801(payment("EC2", "1001"))
    results = [await result_of(spdb, "EC2") for _ in range(PROCESSING_POLLS + 1)]
    assert [r.status for r in results] == [ChannelStatus.PROCESSING] * PROCESSING_POLLS + [
        ChannelStatus.SUCCEEDED
    ]
    assert {r.trans_status for r in results[:-1]} <= {"0", "1", "2", "3"}


async def test_payment_rejected_by_8801_carries_the_bank_code_and_pays_nothing(
    spdb: SpdbClient,
) -> None:
    answer = await spdb.pay_8801(payment("EC3", "2002"))
    assert answer.status is AnswerStatus.REJECTED
    assert (answer.return_code, answer.return_msg) == ("B2E0005", "网银授权设置不匹配")
    assert answer.channel_status is ChannelStatus.FAILED
    assert answer.accept_no is None
    assert (await spdb.query_8804(PaymentQuery(elec_cheque_no="EC3"))).results == ()


async def test_payment_refused_after_acceptance_fails_with_the_reason_from_note(
    spdb: SpdbClient,
) -> None:
    await spdb.pay_8801(payment("EC4", "3003"))
    result = await result_of(spdb, "EC4")
    assert (result.status, result.trans_status) == (ChannelStatus.FAILED, "8")
    assert result.refusal_reason is not None and "原因" in result.refusal_reason


async def test_payment_revoked_after_acceptance_fails(spdb: SpdbClient) -> None:
    await spdb.pay_8801(payment("EC5", "4004"))
    result = await result_of(spdb, "EC5")
    assert (result.status, result.trans_status) == (ChannelStatus.FAILED, "9")
    assert result.refusal_reason is not None and "撤销" in result.refusal_reason


async def test_an_unrecognised_trans_status_is_unknown_never_final(spdb: SpdbClient) -> None:
    await spdb.pay_8801(payment("EC6", "0007"))
    result = await result_of(spdb, "EC6")
    assert (result.status, result.trans_status) == (ChannelStatus.UNKNOWN, "7")
    assert result.refusal_reason is None


async def test_a_malformed_answer_is_an_unknown_outcome_that_a_query_resolves(
    spdb: SpdbClient,
) -> None:
    with pytest.raises(MalformedAnswer) as caught:
        await spdb.pay_8801(payment("EC7", "6006"))
    assert isinstance(caught.value, OutcomeUnknown)
    assert caught.value.exchange.response_packet is not None
    assert "6225********6006" in str(caught.value.exchange.request_log)
    # The bank took the payment in although its answer was broken.
    assert (await result_of(spdb, "EC7")).status is ChannelStatus.SUCCEEDED


async def test_an_unsigned_success_answer_is_an_unknown_outcome(spdb: SpdbClient) -> None:
    with pytest.raises(UnsignedAnswer) as caught:
        await spdb.pay_8801(payment("EC8", "7007"))
    assert caught.value.exchange.response_body is None
    assert (await result_of(spdb, "EC8")).status is ChannelStatus.SUCCEEDED


async def test_a_badly_signed_answer_is_an_unknown_outcome(spdb: SpdbClient) -> None:
    with pytest.raises(BadSignature) as caught:
        await spdb.pay_8801(payment("EC9", "7008"))
    assert "not trusted" in str(caught.value)
    assert (await result_of(spdb, "EC9")).status is ChannelStatus.SUCCEEDED


async def test_a_bank_system_error_is_an_unknown_outcome_not_a_rejection(
    spdb: SpdbClient,
) -> None:
    with pytest.raises(BankSystemError) as caught:
        await spdb.pay_8801(payment("EC10", "9042"))
    assert isinstance(caught.value, OutcomeUnknown)
    assert caught.value.return_code == "EGG0042"
    assert (await spdb.query_8804(PaymentQuery(elec_cheque_no="EC10"))).results == ()


async def test_resending_a_voucher_returns_the_first_acceptance_and_pays_once(
    spdb: SpdbClient,
) -> None:
    first = await spdb.pay_8801(payment("EC11", "0946"))
    again = await spdb.pay_8801(payment("EC11", "0946"))
    assert again.status is AnswerStatus.ACCEPTED
    assert again.accept_no == first.accept_no
    assert again.exchange.packet_id != first.exchange.packet_id
    listed = await spdb.query_8804(PaymentQuery(elec_cheque_no="EC11"))
    assert listed.total_count == 1 and len(listed.results) == 1


async def test_reusing_a_voucher_for_a_different_payment_is_rejected(
    spdb: SpdbClient,
) -> None:
    # SBX0001 is on no list of definite refusals: the voucher is paid (by the first payment)
    await spdb.pay_8801(payment("EC12", "0946"))
    with pytest.raises(UnlistedRefusal) as refused:
        await spdb.pay_8801(payment("EC12", "0946", amount="99.00"))
    assert refused.value.return_code == "SBX0001"


async def test_exchanges_keep_raw_packets_and_mask_the_logged_copies(spdb: SpdbClient) -> None:
    payee = "6225160100120946"
    answer = await spdb.pay_8801(payment("EC13", "0946"))
    sent = answer.exchange
    assert sent.request_packet[:6] == f"{len(sent.request_packet):06d}".encode()
    assert payee in sent.request_body
    assert payee not in sent.request_log and "6225********0946" in sent.request_log
    assert sent.response_log is not None and str(answer.accept_no) in sent.response_log
    queried = (await spdb.query_8804(PaymentQuery(elec_cheque_no="EC13"))).exchange
    assert queried.response_body is not None and payee in queried.response_body
    assert payee not in str(queried.response_log)
    assert payee not in str(queried.log_record())


async def test_a_payment_to_another_bank_carries_its_flags_and_cnaps_number(spdb: SpdbClient) -> None:
    other_bank = replace(
        payment("EC14", "0946"),
        sys_flag=SysFlag.OTHER_BANK,
        remit_location=RemitLocation.OTHER_CITY,
        payee_bank_no="105100000017",  # CCB, Beijing
    )
    answer = await spdb.pay_8801(other_bank)
    assert answer.status is AnswerStatus.ACCEPTED
    assert "<sysFlag>1</sysFlag><remitLocation>1</remitLocation>" in answer.exchange.request_log
    assert "<payeeBankNo>105100000017</payeeBankNo>" in answer.exchange.request_log
    result = await result_of(spdb, "EC14")
    assert (result.sys_flag, result.remit_location, result.status) == ("1", "1", ChannelStatus.SUCCEEDED)

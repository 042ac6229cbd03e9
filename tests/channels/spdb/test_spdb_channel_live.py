"""What a cassette cannot hold, against the sandbox running in this process: timeouts,
unreachable services, and the sandbox's own checks of what it receives."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from plugins.spdb.errors import CallTimedOut, NotSent, OutcomeUnknown, SigningServerError, TransportFailed
from plugins.spdb.messages import AnswerStatus, PaymentQuery, RemitLocation, SinglePayment, SysFlag
from plugins.spdb.packet import BEIJING, RequestHead, build_body, build_request, parse_answer
from plugins.spdb.pkcs7 import sign_embedded
from plugins.spdb.sandbox import main
from plugins.spdb.sandbox_scenarios import SandboxConfig
from ports.channels import ChannelStatus
from ports.conformance import SilentServer

LiveBankFactory = Callable[..., Awaitable[Any]]  # the `live_bank` fixture (see conftest)


def payment(elec_cheque_no: str, suffix: str) -> SinglePayment:
    return SinglePayment(
        elec_cheque_no=elec_cheque_no,
        payee_acct_no=f"622516010012{suffix}",
        payee_name="李四",
        amount=Decimal("88.00"),
    )


async def test_a_timed_out_payment_is_an_unknown_outcome_the_query_resolves(
    live_bank: LiveBankFactory,
) -> None:
    # The sandbox holds the answer far beyond the client's tiny timeout (and lets go at
    # shutdown), but takes the payment in at once, as a slow bank would.
    bank = await live_bank(SandboxConfig(delay_seconds=30), timeout_seconds=0.25)
    with pytest.raises(CallTimedOut) as caught:
        await bank.client.pay_8801(payment("LT1", "5005"))
    assert isinstance(caught.value, OutcomeUnknown)
    assert caught.value.exchange.response_packet is None
    result = (await bank.client.query_8804(PaymentQuery(elec_cheque_no="LT1"))).for_cheque("LT1")
    assert result is not None and result.status is ChannelStatus.SUCCEEDED


async def test_a_front_machine_refusing_the_connection_means_nothing_was_sent(
    live_bank: LiveBankFactory, closed_port: int
) -> None:
    bank = await live_bank(front_machine_url=f"http://127.0.0.1:{closed_port}/front")
    with pytest.raises(NotSent) as caught:
        await bank.client.pay_8801(payment("LT2", "0946"))
    assert caught.value.code == "CONNECT_FAILED"
    assert not isinstance(caught.value, OutcomeUnknown)


async def test_a_connection_dropped_after_the_packet_left_is_a_transport_failure(
    live_bank: LiveBankFactory,
) -> None:
    # the connection opens and the packet is written, then the peer closes without answering
    async with SilentServer(drop=True) as front:
        bank = await live_bank(front_machine_url=f"{front.url}/front")
        with pytest.raises(TransportFailed) as caught:
            await bank.client.pay_8801(payment("LT7", "0946"))
    assert front.received.startswith(b"POST /front")
    assert isinstance(caught.value, OutcomeUnknown)
    assert caught.value.exchange.response_packet is None


async def test_an_http_error_from_the_front_machine_is_a_transport_failure(
    live_bank: LiveBankFactory,
) -> None:
    bank = await live_bank()
    bank = await live_bank(front_machine_url=f"{bank.base}/no-such-path")
    with pytest.raises(TransportFailed) as caught:
        await bank.client.pay_8801(payment("LT3", "0946"))
    assert caught.value.exchange.http_status == 404


async def test_a_signing_server_down_means_nothing_reached_the_bank(
    live_bank: LiveBankFactory, closed_port: int
) -> None:
    bank = await live_bank(signing_server_url=f"http://127.0.0.1:{closed_port}/signer")
    with pytest.raises(NotSent) as caught:
        await bank.client.pay_8801(payment("LT4", "0946"))
    assert caught.value.code == "SIGNING_FAILED"
    assert isinstance(caught.value.__cause__, SigningServerError)
    assert bank.sandbox.payments == {}


async def test_a_payee_name_outside_gbk_is_not_sent(live_bank: LiveBankFactory) -> None:
    bank = await live_bank()
    bad = SinglePayment(
        elec_cheque_no="LT8", payee_acct_no="6225160100120946", payee_name="张三😀", amount=Decimal("1.00")
    )
    with pytest.raises(NotSent) as caught:
        await bank.client.pay_8801(bad)
    assert caught.value.code == "PACKET_ERROR"
    assert bank.sandbox.payments == {}


async def test_a_payment_without_a_payee_name_is_not_sent(live_bank: LiveBankFactory) -> None:
    bank = await live_bank()
    bad = SinglePayment(
        elec_cheque_no="LT9", payee_acct_no="6225160100120946", payee_name=" ", amount=Decimal("1.00")
    )
    with pytest.raises(NotSent) as caught:
        await bank.client.pay_8801(bad)
    assert caught.value.code == "INVALID_PAYEE"
    assert bank.sandbox.payments == {}


async def test_the_sandbox_keeps_one_payment_per_voucher(live_bank: LiveBankFactory) -> None:
    bank = await live_bank()
    first = await bank.client.pay_8801(payment("LT5", "0946"))
    again = await bank.client.pay_8801(payment("LT5", "0946"))
    assert first.status is again.status is AnswerStatus.ACCEPTED
    assert list(bank.sandbox.payments) == ["LT5"]


async def test_the_front_machine_refuses_a_packet_signed_by_an_untrusted_key(
    live_bank: LiveBankFactory,
) -> None:
    bank = await live_bank()
    body = build_body([("elecChequeNo", "LT6")]).encode("gbk")
    signature = base64.b64encode(sign_embedded(bank.sandbox.identities.rogue, body)).decode()
    head = RequestHead("8801", "2000000001", "P1", datetime(2024, 5, 20, tzinfo=BEIJING))
    async with bank.session.post(f"{bank.base}/front", data=build_request(head, signature)) as r:
        answer = parse_answer(await r.read())
    assert (answer.return_code, answer.return_msg) == ("EYY9994", "签名验证错误")
    assert answer.signature is None


async def test_the_front_machine_refuses_a_packet_with_a_wrong_length(
    live_bank: LiveBankFactory,
) -> None:
    bank = await live_bank()
    head = RequestHead("8801", "2000000001", "P1", datetime(2024, 5, 20, tzinfo=BEIJING))
    packet = build_request(head, "QUJD")
    async with bank.session.post(f"{bank.base}/front", data=b"000010" + packet[6:]) as response:
        assert response.status == 400


def test_the_sandbox_entry_point_documents_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "--port" in capsys.readouterr().out


def _signed_8801(bank: Any, **fields: str) -> bytes:
    """An 8801 packet signed by the enterprise, with `fields` over a valid same-bank payment."""
    given = {
        "elecChequeNo": "LT9",
        "acctNo": "95200078800000001",
        "acctName": "沙箱测试企业",
        "payeeAcctNo": "6225160100120946",
        "payeeName": "李四",
        "amount": "88.00",
        "sysFlag": "0",
        "remitLocation": "0",
        "payeeBankNo": "",
        **fields,
    }
    body = build_body(list(given.items())).encode("gbk")
    signature = base64.b64encode(sign_embedded(bank.sandbox.identities.enterprise, body)).decode()
    head = RequestHead("8801", "2000000001", "P9", datetime(2024, 5, 20, tzinfo=BEIJING))
    return build_request(head, signature)


@pytest.mark.parametrize(
    "fields",
    [
        {"sysFlag": "1"},  # another bank without its CNAPS number
        {"sysFlag": "1", "payeeBankNo": "310290000013"},  # another bank with an SPDB number
        {"sysFlag": "0", "payeeBankNo": "102290000019"},  # the bank itself with ICBC's number
        {"sysFlag": "1", "payeeBankNo": "10229000"},  # not a CNAPS number
        {"remitLocation": "2"},
    ],
)
async def test_the_front_machine_refuses_payee_bank_fields_that_disagree(
    live_bank: LiveBankFactory, fields: dict[str, str]
) -> None:
    bank = await live_bank()
    async with bank.session.post(f"{bank.base}/front", data=_signed_8801(bank, **fields)) as r:
        answer = parse_answer(await r.read())
    assert answer.return_code == "SBX0005", answer.return_msg
    assert not bank.sandbox.payments, "nothing taken in"


async def test_a_payee_at_another_bank_is_paid_with_its_cnaps_number(live_bank: LiveBankFactory) -> None:
    bank = await live_bank()
    other = SinglePayment(
        elec_cheque_no="LT10",
        payee_acct_no="6222020200112233",
        payee_name="李四",
        amount=Decimal("88.00"),
        sys_flag=SysFlag.OTHER_BANK,
        remit_location=RemitLocation.OTHER_CITY,
        payee_bank_no="105100000017",
    )
    answer = await bank.client.pay_8801(other)
    assert answer.status is AnswerStatus.ACCEPTED
    fields = bank.sandbox.payments["LT10"].fields
    assert (fields["sysFlag"], fields["remitLocation"], fields["payeeBankNo"]) == ("1", "1", "105100000017")


async def test_a_slow_bank_takes_the_payment_in_and_answers_late(live_bank: LiveBankFactory) -> None:
    bank = await live_bank(SandboxConfig(answer_delay_seconds=30), timeout_seconds=0.25)
    with pytest.raises(CallTimedOut):
        await bank.client.pay_8801(payment("LT11", "0946"))  # an ordinary account: the bank is slow
    assert list(bank.sandbox.payments) == ["LT11"]

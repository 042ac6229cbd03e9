"""Account numbers never reach a log whole: masked values, masked packets, masked exchanges."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from plugins.spdb.exchange import Exchange, loggable_packet, mask_account, mask_text
from plugins.spdb.packet import (
    BEIJING,
    AnswerHead,
    RequestHead,
    build_answer,
    build_body,
    build_request,
)

PAYEE = "6225160100120946"
PAYER = "95200078801300000003"


@pytest.mark.parametrize(
    ("account", "masked"),
    [
        (PAYEE, "6225********0946"),
        (PAYER, "9520************0003"),
        ("123456789", "1234*6789"),
        ("12345678", "****5678"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_account_keeps_first_and_last_four(account: str, masked: str) -> None:
    assert mask_account(account) == masked


def test_mask_text_masks_every_account_element_and_nothing_else() -> None:
    text = build_body(
        [("elecChequeNo", "201600102840"), ("acctNo", PAYER), ("payeeAcctNo", PAYEE), ("amount", "14.07")]
    )
    masked = mask_text(text)
    assert PAYEE not in masked and PAYER not in masked
    assert "<payeeAcctNo>6225********0946</payeeAcctNo>" in masked
    assert "<elecChequeNo>201600102840</elecChequeNo>" in masked
    assert "<amount>14.07</amount>" in masked


def test_a_logged_packet_shows_the_masked_plaintext_instead_of_the_signature() -> None:
    plaintext = build_body([("payeeAcctNo", PAYEE), ("payeeName", "张三")])
    # A SignedData embeds the body in clear, so its base64 would leak the account number.
    signature = base64.b64encode(b"\x30\x82" + plaintext.encode("gbk")).decode()
    head = RequestHead("8801", "1", "P1", datetime(2024, 5, 20, tzinfo=BEIJING))
    logged = loggable_packet(build_request(head, signature), plaintext)
    assert signature not in logged
    assert PAYEE not in logged
    assert "<payeeName>张三</payeeName>" in logged


def test_an_unverified_signature_is_logged_as_a_marker() -> None:
    answer = build_answer(AnswerHead("8801", "P1", "t", "AAAAAAA"), signature="QUJD")
    logged = loggable_packet(answer, None)
    assert "QUJD" not in logged
    assert "[PKCS#7 4 chars sha256:" in logged


def test_exchange_logs_and_repr_hide_account_numbers() -> None:
    plaintext = build_body([("acctNo", PAYER), ("payeeAcctNo", PAYEE)])
    head = RequestHead("8801", "1", "P1", datetime(2024, 5, 20, tzinfo=BEIJING))
    answer_fields = [("returnCode", "B2E0005"), ("returnMsg", f"账号{PAYEE}"), ("payeeAcctNo", PAYEE)]
    exchange = Exchange("8801", "P1", "EC1", head.timestamp, plaintext, build_request(head, "QUJD")).answered(
        200, build_answer(AnswerHead("8801", "P1", "t", "B2E0005"), fields=answer_fields)
    )
    record = exchange.log_record()
    assert PAYER not in str(record["request"])
    assert "<payeeAcctNo>6225********0946</payeeAcctNo>" in str(record["response"])
    assert PAYEE not in repr(exchange) and PAYER not in repr(exchange)

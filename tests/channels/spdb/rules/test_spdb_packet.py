"""Packets: GBK bodies, exact length prefixes, and typed errors for anything malformed."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.spdb.errors import MalformedPacket, PacketError
from plugins.spdb.packet import (
    BEIJING,
    AnswerHead,
    RequestHead,
    build_answer,
    build_body,
    build_request,
    encode,
    parse_answer,
    parse_body,
    parse_request,
)

STAMP = datetime(2024, 5, 20, 9, 5, 7, tzinfo=BEIJING)
HEAD = RequestHead("8801", "2000040752", "2024052003250001", STAMP)
SIGNATURE = "MIIBcwYJKoZIhvcNAQcCoIIBZDCCAWACAQEx"


def test_body_round_trips_chinese_names_through_gbk() -> None:
    fields = {"payeeName": "张三镕", "acctName": "浦发2000046127", "note": "报销 & 借款"}
    body = parse_body(build_body(fields.items()).encode("gbk"))
    assert body.fields == fields


def test_body_keeps_the_field_order_given() -> None:
    xml = build_body([("elecChequeNo", "1"), ("authMasterID", ""), ("acctNo", "2")])
    assert xml == (
        "<body><elecChequeNo>1</elecChequeNo><authMasterID></authMasterID><acctNo>2</acctNo></body>"
    )


def test_body_rows_round_trip_as_loop_result_lists() -> None:
    xml = build_body(
        [("totalCount", "2")],
        [[("elecChequeNo", "A"), ("transStatus", "4")], [("elecChequeNo", "B"), ("transStatus", "8")]],
    )
    body = parse_body(xml)
    assert body.lists_name == "LoopResult"
    assert body.get("totalCount") == "2"
    assert [row["elecChequeNo"] for row in body.rows] == ["A", "B"]


def test_body_escapes_markup_in_values() -> None:
    xml = build_body([("note", "<signature>x</signature>")])
    assert "<signature>" not in xml
    assert parse_body(xml).get("note") == "<signature>x</signature>"


@pytest.mark.parametrize("fields", [[("bad tag", "x")], [("note", "\x01")]])
def test_body_refuses_names_and_characters_xml_cannot_carry(fields: list[tuple[str, str]]) -> None:
    with pytest.raises(PacketError):
        build_body(fields)


def test_text_outside_gbk_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(PacketError, match="gbk"):
        encode("付款 😀")


def test_request_packet_has_the_documented_layout() -> None:
    packet = build_request(HEAD, SIGNATURE)
    assert packet[6:].decode("gbk") == (
        '<?xml version="1.0" encoding="GB2312"?><packet><head><transCode>8801</transCode>'
        "<signFlag>1</signFlag><masterID>2000040752</masterID>"
        "<packetID>2024052003250001</packetID><timeStamp>2024-05-20 09:05:07</timeStamp>"
        f"</head><body><signature>{SIGNATURE}</signature></body></packet>"
    )


def test_request_length_prefix_counts_every_byte_including_itself() -> None:
    packet = build_request(HEAD, SIGNATURE)
    assert packet[:6] == f"{len(packet):06d}".encode()
    assert packet[:2] == b"00"


def test_request_round_trips_through_the_front_machine_parser() -> None:
    parsed = parse_request(build_request(HEAD, SIGNATURE + "\r\n" + "AAAA"))
    assert parsed.head == HEAD
    assert parsed.signature == SIGNATURE + "AAAA"


def test_request_with_a_wrong_length_prefix_is_refused() -> None:
    packet = build_request(HEAD, SIGNATURE)
    with pytest.raises(MalformedPacket, match="length prefix"):
        parse_request(b"%06d" % (len(packet) - 6) + packet[6:])


def test_request_refuses_a_signature_that_is_not_base64() -> None:
    with pytest.raises(PacketError):
        build_request(HEAD, "</signature><x>")


def test_answer_prefix_is_space_padded_and_exact() -> None:
    head = AnswerHead("8801", "P1", "2024-05-20 09:05:07", "AAAAAAA")
    packet = build_answer(head, signature=SIGNATURE)
    assert packet[:6] == f"{len(packet):<6d}".encode()
    assert packet[4:6] == b"  "


def test_success_answer_round_trips_with_its_signature() -> None:
    head = AnswerHead("8804", "P1", "2024-05-20 09:05:07", "AAAAAAA")
    answer = parse_answer(build_answer(head, signature=SIGNATURE))
    assert answer.succeeded
    assert answer.signature == SIGNATURE
    assert answer.head.packet_id == "P1"


def test_error_answer_carries_an_unsigned_body_with_a_chinese_message() -> None:
    head = AnswerHead("8801", "P1", "2024-05-20 09:05:07", "B2E0005", "", "0")
    fields = [("returnCode", "B2E0005"), ("returnMsg", "网银授权设置不匹配")]
    packet = build_answer(head, fields=fields)
    answer = parse_answer(packet)
    assert not answer.succeeded
    assert answer.signature is None
    assert (answer.return_code, answer.return_msg) == ("B2E0005", "网银授权设置不匹配")


def test_answer_parser_reads_the_public_sample_layout() -> None:
    xml = (
        '<?xml version="1.0" encoding="gb2312"?><packet><head><transCode>4402</transCode>'
        "<signFlag>1</signFlag><packetID>1554866681558</packetID>"
        "<timeStamp>2019-04-10 11:24:42</timeStamp><returnCode>AAAAAAA</returnCode></head>"
        "<body><signature>MIIL\nQAYJ</signature></body></packet>"
    ).encode("gbk")
    answer = parse_answer(f"{len(xml) + 6:<6d}".encode() + xml)
    assert answer.succeeded and answer.signature == "MIILQAYJ"


def test_answer_length_may_leave_out_the_prefix_or_a_trailing_newline() -> None:
    xml = build_answer(AnswerHead("8801", "P", "t", "AAAAAAA"), signature="QQ==")[6:]
    assert parse_answer(f"{len(xml):<6d}".encode() + xml).succeeded
    assert parse_answer(f"{len(xml) + 6:<6d}".encode() + xml + b"\r\n").succeeded


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"0000",
        b"abcdef<packet/>",
        b"000099<packet/>",
        b"000019<packet/>",
        b"000021<notpacket/>",
        b"000020<packet><head>",
        b"000029<packet><head/></packet>",
        b"000028\xff\xfe<packet></packet>",
        b'000100<!DOCTYPE p [<!ENTITY a "aaaa">]><packet>&a;</packet>'.ljust(100, b" "),
    ],
)
def test_malformed_answers_raise_a_typed_error(raw: bytes) -> None:
    with pytest.raises(MalformedPacket):
        parse_answer(raw)


@settings(max_examples=300, database=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_answer_parser(raw: bytes) -> None:
    with contextlib.suppress(MalformedPacket):
        parse_answer(raw)


@settings(max_examples=200, database=None)
@given(st.text(max_size=200))
def test_arbitrary_framed_text_never_crashes_the_parser(text: str) -> None:
    body = text.encode("gbk", errors="ignore")
    for raw in (b"%06d" % (len(body) + 6) + body, b"%06d" % (len(body) + 6) + b"<packet>" + body):
        with contextlib.suppress(MalformedPacket):
            parse_answer(raw)
        with contextlib.suppress(MalformedPacket):
            parse_body(text)


@settings(max_examples=100, database=None)
@given(st.text(alphabet=st.characters(codec="gbk", exclude_categories=["Cs", "Cc"]), max_size=40))
def test_any_gbk_text_round_trips_through_a_body(value: str) -> None:
    parsed = parse_body(build_body([("payeeName", value)]).encode("gbk"))
    assert parsed.get("payeeName") == value.strip()

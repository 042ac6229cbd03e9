"""Answer envelopes: the raw `*_response` text is found exactly and verified before parsing."""

from __future__ import annotations

import json

import pytest

from plugins.alipay_openapi.envelope import (
    extract_envelope,
    open_envelope,
    response_key,
    top_level_members,
)
from plugins.alipay_openapi.errors import MalformedResponseError, ResponseSignatureError
from plugins.alipay_openapi.signing import PrivateKey, sign_content

METHOD = "alipay.fund.trans.uni.transfer"
KEY = "alipay_fund_trans_uni_transfer_response"

# Braces and quotes inside strings, an escaped backslash right before a closing quote,
# nested objects and arrays, and non-ASCII text: all must be skipped by the brace matcher.
TRICKY = (
    '{"code":"10000","msg":"Success","order_title":"a \\"}\\" b {",'
    '"nested":{"x":[1,{"y":"}"}],"z":"\\\\"},"name":"张三 \\u005c"}'
)


def _body(content: str, key: PrivateKey, *, response: str = KEY, sign_first: bool = False) -> str:
    sign = json.dumps(sign_content(content, key))
    if sign_first:
        return '{"sign":' + sign + ',"' + response + '":' + content + "}"
    return '{"' + response + '":' + content + ',"sign":' + sign + "}"


def test_response_key_replaces_dots_with_underscores() -> None:
    assert response_key(METHOD) == KEY


def test_extraction_returns_the_exact_raw_text_despite_braces_in_strings(
    alipay_key: PrivateKey,
) -> None:
    envelope = extract_envelope(_body(TRICKY, alipay_key), METHOD)

    assert envelope.key == KEY
    assert envelope.content == TRICKY


def test_extraction_works_when_the_sign_comes_first(alipay_key: PrivateKey) -> None:
    envelope = extract_envelope(_body(TRICKY, alipay_key, sign_first=True), METHOD)

    assert envelope.content == TRICKY
    assert envelope.sign == sign_content(TRICKY, alipay_key)


def test_verified_answer_is_parsed_from_the_verified_text(alipay_key: PrivateKey) -> None:
    verified = open_envelope(_body(TRICKY, alipay_key), METHOD, alipay_key.public_key())

    assert verified.payload["order_title"] == 'a "}" b {'
    assert verified.payload["nested"] == {"x": [1, {"y": "}"}], "z": "\\"}


def test_whitespace_inside_the_response_is_signed_as_sent(alipay_key: PrivateKey) -> None:
    # Re-serialising would drop these spaces and break the signature: the raw text must be used.
    content = '{ "code" : "10000",\n  "msg" : "Success" }'
    body = '{\n  "' + KEY + '" : ' + content + ' ,\n  "sign" : "' + sign_content(content, alipay_key) + '"\n}'

    verified = open_envelope(body, METHOD, alipay_key.public_key())

    assert verified.content == content
    assert verified.payload == {"code": "10000", "msg": "Success"}


def test_error_response_is_used_when_the_method_member_is_absent(alipay_key: PrivateKey) -> None:
    content = '{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"}'

    verified = open_envelope(
        _body(content, alipay_key, response="error_response"), METHOD, alipay_key.public_key()
    )

    assert verified.is_error_response
    assert verified.payload["sub_code"] == "isv.invalid-app-id"


def test_tampered_response_is_rejected(alipay_key: PrivateKey) -> None:
    content = '{"code":"10000","msg":"Success","status":"FAIL"}'
    body = _body(content, alipay_key).replace('"FAIL"', '"SUCCESS"')

    with pytest.raises(ResponseSignatureError):
        open_envelope(body, METHOD, alipay_key.public_key())


def test_response_signed_by_another_key_is_rejected(alipay_key: PrivateKey, stranger_key: PrivateKey) -> None:
    body = _body('{"code":"10000","msg":"Success"}', stranger_key)

    with pytest.raises(ResponseSignatureError):
        open_envelope(body, METHOD, alipay_key.public_key())


@pytest.mark.parametrize("sign_member", ["", ',"sign":""', ',"sign":null'])
def test_unsigned_answers_are_rejected_even_when_they_report_errors(
    alipay_key: PrivateKey, sign_member: str
) -> None:
    body = '{"' + KEY + '":{"code":"40004","msg":"Business Failed"}' + sign_member + "}"

    with pytest.raises(ResponseSignatureError, match="no signature"):
        open_envelope(body, METHOD, alipay_key.public_key())


def test_an_answer_for_another_method_is_not_accepted(alipay_key: PrivateKey) -> None:
    body = _body(
        '{"code":"10000","msg":"Success"}', alipay_key, response="alipay_fund_trans_common_query_response"
    )

    with pytest.raises(MalformedResponseError):
        open_envelope(body, METHOD, alipay_key.public_key())


def test_a_repeated_member_makes_the_envelope_ambiguous() -> None:
    body = '{"' + KEY + '":{"code":"40004"},"' + KEY + '":{"code":"10000"},"sign":"x"}'

    with pytest.raises(MalformedResponseError, match="twice"):
        extract_envelope(body, METHOD)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<html>502 Bad Gateway</html>",
        "[1,2]",
        '{"' + KEY + '":{"code":"10000"',
        '{"a":1} x',
        '{"' + KEY + '":"text","sign":"x"}',
    ],
)
def test_malformed_bodies_are_refused(body: str) -> None:
    with pytest.raises(MalformedResponseError):
        extract_envelope(body, METHOD)


def test_top_level_members_keep_scalars_and_arrays_raw() -> None:
    members = top_level_members('{"a": 1.50 ,"b":[{"c":"]"}],"d":true,"e":null}')

    assert members == {"a": "1.50", "b": '[{"c":"]"}]', "d": "true", "e": "null"}

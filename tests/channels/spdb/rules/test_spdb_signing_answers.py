"""The signing server's answers: a base64 <sign>, the plaintext in <sic>, non-zero results."""

from __future__ import annotations

import pytest

from plugins.spdb.errors import SignatureRejected, SigningServerError
from plugins.spdb.sandbox_scenarios import SandboxIdentities
from plugins.spdb.signing import (
    parse_sign_result,
    parse_verify_result,
    render_failure,
    render_sign_result,
    render_verify_result,
)

SIGNATURE = "MIIJKgYJKoZIhvcNAQcCoIIJGzCCCRcCAQExCzAJBgUrDgMCGgUAMIGPBgkqhkiG9w0BBwGggYEE" * 3


def test_sign_result_is_read_without_its_line_breaks() -> None:
    assert parse_sign_result(render_sign_result(SIGNATURE, line_length=20)) == SIGNATURE


def test_sign_result_from_the_public_sample_shape() -> None:
    raw = (
        "<html><head><title>签名结果</title><result>0</result></head>"
        "<body><sign>MIIJ\r\nKgYJ</sign></body></html>"
    ).encode("gbk")
    assert parse_sign_result(raw) == "MIIJKgYJ"


@pytest.mark.parametrize(
    "raw",
    [
        render_failure(-1, "证书过期"),
        b"<html><body><sign>QUJD</sign></body></html>",
        b"<html><head><result>0</result></head><body></body></html>",
        b"<html><head><result>0</result></head><body><sign>***</sign></body></html>",
        b"\xff\xff\xff",
    ],
)
def test_a_failed_or_odd_sign_answer_is_a_signing_server_error(raw: bytes) -> None:
    with pytest.raises(SigningServerError):
        parse_sign_result(raw)


def test_verify_result_gives_back_the_plaintext_body(identities: SandboxIdentities) -> None:
    plaintext = "<body><acceptNo>PT19YQ0000018904</acceptNo><payeeName>张三</payeeName></body>"
    raw = render_verify_result(plaintext, identities.bank.certificate)
    assert parse_verify_result(raw) == plaintext
    assert b"<certdn>" in raw and b"<certsn>" in raw


def test_a_refused_verification_is_a_rejection_with_the_server_message() -> None:
    with pytest.raises(SignatureRejected, match="验签失败"):
        parse_verify_result(render_failure(-1, "验签失败"))


def test_a_verify_answer_without_sic_is_a_server_error_not_a_rejection() -> None:
    with pytest.raises(SigningServerError) as caught:
        parse_verify_result(b"<html><head><result>0</result></head><body></body></html>")
    assert not isinstance(caught.value, SignatureRejected)

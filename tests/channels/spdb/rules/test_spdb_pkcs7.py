"""The sandbox signer: real PKCS#7 SignedData with the body embedded, and tamper detection."""

from __future__ import annotations

import pytest

from plugins.spdb.errors import SignatureInvalid
from plugins.spdb.packet import build_body
from plugins.spdb.pkcs7 import sign_embedded, verify_embedded
from plugins.spdb.sandbox_scenarios import SandboxIdentities

BODY = build_body([("payeeAcctNo", "6225160100120946"), ("payeeName", "张三镕")]).encode("gbk")


def test_sign_and_verify_round_trip_returns_the_exact_gbk_body(
    identities: SandboxIdentities,
) -> None:
    der = sign_embedded(identities.enterprise, BODY)
    verified = verify_embedded(der, [identities.enterprise.certificate])
    assert verified.content == BODY
    assert verified.signer == identities.enterprise.certificate


def test_the_body_travels_embedded_in_the_signed_data(identities: SandboxIdentities) -> None:
    assert BODY in sign_embedded(identities.enterprise, BODY)


def test_binary_content_is_kept_byte_for_byte(identities: SandboxIdentities) -> None:
    content = b"<body>\r\n\n<a>1</a></body>"
    der = sign_embedded(identities.bank, content)
    assert verify_embedded(der, [identities.bank.certificate]).content == content


def test_a_changed_body_is_detected(identities: SandboxIdentities) -> None:
    der = sign_embedded(identities.enterprise, BODY)
    tampered = der.replace(b"0946", b"0947")
    with pytest.raises(SignatureInvalid, match="digest"):
        verify_embedded(tampered, [identities.enterprise.certificate])


def test_a_changed_signature_is_detected(identities: SandboxIdentities) -> None:
    der = bytearray(sign_embedded(identities.enterprise, BODY))
    der[-5] ^= 0xFF  # inside the signature value, the last field of the DER
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_embedded(bytes(der), [identities.enterprise.certificate])


def test_a_signer_that_is_not_trusted_is_refused(identities: SandboxIdentities) -> None:
    der = sign_embedded(identities.rogue, BODY)
    with pytest.raises(SignatureInvalid, match="not trusted"):
        verify_embedded(der, [identities.enterprise.certificate, identities.bank.certificate])


@pytest.mark.parametrize("garbage", [b"", b"\x30", b"\x30\x03\x02\x01", b"not der at all", b"\x30\x00"])
def test_garbage_is_a_typed_error(garbage: bytes, identities: SandboxIdentities) -> None:
    with pytest.raises(SignatureInvalid):
        verify_embedded(garbage, [identities.enterprise.certificate])


def test_every_truncation_is_a_typed_error(identities: SandboxIdentities) -> None:
    der = sign_embedded(identities.enterprise, BODY)
    for cut in range(0, len(der), 37):
        with pytest.raises(SignatureInvalid):
            verify_embedded(der[:cut], [identities.enterprise.certificate])

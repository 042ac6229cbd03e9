"""PKCS#7 SignedData with the content embedded, as the sandbox's stand-in for the CFCA signer."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from plugins.spdb.errors import SignatureInvalid

# DER encodings of the object identifiers the verifier needs.
_OID_SIGNED_DATA = bytes.fromhex("2a864886f70d010702")
_OID_DATA = bytes.fromhex("2a864886f70d010701")
_OID_MESSAGE_DIGEST = bytes.fromhex("2a864886f70d010904")
_DIGESTS: dict[bytes, tuple[str, hashes.HashAlgorithm]] = {
    bytes.fromhex("608648016503040201"): ("sha256", hashes.SHA256()),
    bytes.fromhex("608648016503040202"): ("sha384", hashes.SHA384()),
    bytes.fromhex("608648016503040203"): ("sha512", hashes.SHA512()),
}

_SEQUENCE, _SET, _OID, _OCTETS, _INTEGER = 0x30, 0x31, 0x06, 0x04, 0x02
_CONTEXT_0, _CONTEXT_1, _CONSTRUCTED_OCTETS = 0xA0, 0xA1, 0x24


@dataclass(frozen=True, slots=True)
class SignerIdentity:
    """A private key and its certificate: the sandbox's enterprise, bank or rogue signer."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def self_signed(cls, common_name: str, *, valid_days: int = 3650) -> SignerIdentity:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "paygate sandbox"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=valid_days))
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)


@dataclass(frozen=True, slots=True)
class VerifiedContent:
    content: bytes
    signer: x509.Certificate


def sign_embedded(identity: SignerIdentity, content: bytes) -> bytes:
    """DER SignedData holding `content` byte for byte (binary mode: no newline rewriting)."""
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(content)
        .add_signer(identity.certificate, identity.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def verify_embedded(der: bytes, trusted: Iterable[x509.Certificate]) -> VerifiedContent:
    """Check a SignedData against the trusted certificates and return the content it carries.

    Every signer must be one of `trusted` (matched by issuer and serial number), the signed
    attributes' message digest must equal the content's digest, and the signature over the
    attributes must verify with that certificate's key. Any failure, including bytes that are
    not DER, raises `SignatureInvalid`.
    """
    trusted = list(trusted)
    outer = _single(der)
    content_type, wrapped = _children(outer, _SEQUENCE, count=2)
    if _expect(content_type, _OID) != _OID_SIGNED_DATA:
        raise SignatureInvalid("not a PKCS#7 SignedData")
    (signed_data,) = _children(wrapped, _CONTEXT_0, count=1)
    parts = _children(signed_data, _SEQUENCE)
    if len(parts) < 4:
        raise SignatureInvalid("SignedData is incomplete")
    content = _content(parts[2])
    signer_infos = parts[-1]
    infos = _children(signer_infos, _SET)
    if not infos:
        raise SignatureInvalid("SignedData has no signer")
    signers = [_verify_signer(info, content, trusted) for info in infos]
    return VerifiedContent(content, signers[0])


# -- the signer info -----------------------------------------------------------------------


def _verify_signer(info: _Tlv, content: bytes, trusted: list[x509.Certificate]) -> x509.Certificate:
    fields = _children(info, _SEQUENCE)
    if len(fields) < 5:
        raise SignatureInvalid("signer info is incomplete")
    issuer, serial = _children(fields[1], _SEQUENCE, count=2)
    certificate = _trusted_signer(issuer.raw, _expect(serial, _INTEGER), trusted)
    algorithm_parts = _children(fields[2], _SEQUENCE)
    digest = _DIGESTS.get(_expect(algorithm_parts[0], _OID)) if algorithm_parts else None
    if digest is None:
        raise SignatureInvalid("unsupported digest algorithm")
    name, algorithm = digest
    if fields[3].tag == _CONTEXT_0:
        if len(fields) < 6:
            raise SignatureInvalid("signer info is incomplete")
        attributes = fields[3]
        signature = _expect(fields[5], _OCTETS)
        _check_message_digest(attributes, hashlib.new(name, content).digest())
        # The signature covers the attributes re-tagged as the universal SET they are.
        signed = bytes([_SET]) + attributes.raw[1:]
    else:
        signature = _expect(fields[4], _OCTETS)
        signed = content
    _check_signature(certificate, signature, signed, algorithm)
    return certificate


def _trusted_signer(issuer: bytes, serial: bytes, trusted: list[x509.Certificate]) -> x509.Certificate:
    number = int.from_bytes(serial, "big", signed=True)
    for certificate in trusted:
        if certificate.serial_number == number and certificate.issuer.public_bytes() == issuer:
            return certificate
    raise SignatureInvalid("signed by a certificate that is not trusted")


def _check_message_digest(attributes: _Tlv, expected: bytes) -> None:
    for attribute in _children(attributes, _CONTEXT_0):
        pair = _children(attribute, _SEQUENCE, count=2)
        if _expect(pair[0], _OID) == _OID_MESSAGE_DIGEST:
            values = _children(pair[1], _SET)
            if len(values) == 1 and hmac.compare_digest(_expect(values[0], _OCTETS), expected):
                return
            raise SignatureInvalid("content does not match the signed message digest")
    raise SignatureInvalid("signed attributes carry no message digest")


def _check_signature(
    certificate: x509.Certificate, signature: bytes, signed: bytes, algorithm: hashes.HashAlgorithm
) -> None:
    key = certificate.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(algorithm))
        else:
            raise SignatureInvalid("unsupported signer key type")
    except (InvalidSignature, UnsupportedAlgorithm, ValueError) as exc:
        raise SignatureInvalid("signature does not verify") from exc


def _content(encapsulated: _Tlv) -> bytes:
    parts = _children(encapsulated, _SEQUENCE)
    if not parts or _expect(parts[0], _OID) != _OID_DATA:
        raise SignatureInvalid("encapsulated content is not id-data")
    if len(parts) < 2:
        raise SignatureInvalid("the content is detached, not embedded")
    (octets,) = _children(parts[1], _CONTEXT_0, count=1)
    if octets.tag == _CONSTRUCTED_OCTETS:
        return b"".join(_expect(chunk, _OCTETS) for chunk in _children(octets, _CONSTRUCTED_OCTETS))
    return _expect(octets, _OCTETS)


# -- a minimal DER reader: just enough for SignedData ---------------------------------------


@dataclass(frozen=True, slots=True)
class _Tlv:
    tag: int
    value: bytes
    raw: bytes


def _read(data: bytes, offset: int) -> tuple[_Tlv, int]:
    if offset + 2 > len(data):
        raise SignatureInvalid("truncated DER")
    tag, length = data[offset], data[offset + 1]
    if tag & 0x1F == 0x1F:
        raise SignatureInvalid("unsupported DER tag")
    cursor = offset + 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or cursor + size > len(data):
            raise SignatureInvalid("unsupported or truncated DER length")
        length = int.from_bytes(data[cursor : cursor + size], "big")
        cursor += size
    end = cursor + length
    if end > len(data):
        raise SignatureInvalid("truncated DER")
    return _Tlv(tag, data[cursor:end], data[offset:end]), end


def _single(data: bytes) -> _Tlv:
    if not isinstance(data, bytes | bytearray):
        raise SignatureInvalid("SignedData is bytes")
    tlv, end = _read(bytes(data), 0)
    if end != len(data):
        raise SignatureInvalid("trailing bytes after SignedData")
    return tlv


def _children(tlv: _Tlv, tag: int, *, count: int | None = None) -> list[_Tlv]:
    if tlv.tag != tag:
        raise SignatureInvalid(f"unexpected DER tag {tlv.tag:#04x}, expected {tag:#04x}")
    items: list[_Tlv] = []
    offset = 0
    while offset < len(tlv.value):
        item, offset = _read(tlv.value, offset)
        items.append(item)
    if count is not None and len(items) != count:
        raise SignatureInvalid("unexpected DER structure")
    return items


def _expect(tlv: _Tlv, tag: int) -> bytes:
    if tlv.tag != tag:
        raise SignatureInvalid(f"unexpected DER tag {tlv.tag:#04x}, expected {tag:#04x}")
    return tlv.value

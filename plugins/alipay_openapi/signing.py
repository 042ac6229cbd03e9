"""RSA2 (SHA256withRSA) signing of Alipay OpenAPI parameters, and loading of RSA keys."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Collection, Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from plugins.alipay_openapi.errors import KeyFormatError

SIGN_TYPE = "RSA2"
_PEM_MARKER = "-----BEGIN"
_CERTIFICATE_MARKER = b"-----BEGIN CERTIFICATE-----"
_WHITESPACE = re.compile(r"\s+")

PrivateKey = rsa.RSAPrivateKey
PublicKey = rsa.RSAPublicKey


def build_sign_content(params: Mapping[str, str | None], *, exclude: Collection[str] = ("sign",)) -> str:
    """The string Alipay signs: every parameter but the excluded ones, empty values dropped,
    keys sorted by ASCII, joined as `k=v` with `&`, values raw (never URL-encoded)."""
    items = sorted(
        (key, value)
        for key, value in params.items()
        if key not in exclude and value is not None and value != ""
    )
    return "&".join(f"{key}={value}" for key, value in items)


def sign_content(content: str, private_key: PrivateKey) -> str:
    """SHA256withRSA (PKCS#1 v1.5) over the UTF-8 bytes, base64 without line breaks."""
    signature = private_key.sign(content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_content(content: str, signature: str, public_key: PublicKey) -> bool:
    """True when `signature` (base64) is an RSA2 signature of `content` by `public_key`."""
    try:
        raw = base64.b64decode(_WHITESPACE.sub("", signature), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        public_key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def sign_params(params: Mapping[str, str | None], private_key: PrivateKey) -> str:
    """The `sign` value of a request's parameters."""
    return sign_content(build_sign_content(params), private_key)


def verify_params(
    params: Mapping[str, str | None],
    signature: str,
    public_key: PublicKey,
    *,
    exclude: Collection[str] = ("sign",),
) -> bool:
    """True when `signature` signs `params` (less the excluded keys) under the RSA2 rules."""
    return verify_content(build_sign_content(params, exclude=exclude), signature, public_key)


def _key_bytes(material: str | bytes) -> tuple[bytes, bool]:
    text = material.decode("ascii", "replace") if isinstance(material, bytes) else material
    text = text.strip()
    if _PEM_MARKER in text:
        return text.encode("ascii", "replace"), True
    # Alipay's consoles hand out the bare base64 body of the DER, without PEM armour.
    try:
        return base64.b64decode(_WHITESPACE.sub("", text), validate=True), False
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError("key is neither PEM nor a base64 DER body") from exc


def load_private_key(material: str | bytes) -> PrivateKey:
    """An RSA private key from PEM (PKCS#1 or PKCS#8) or a bare base64 DER body."""
    data, is_pem = _key_bytes(material)
    try:
        if is_pem:
            key = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("private key could not be loaded (PKCS#1 or PKCS#8 expected)") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyFormatError("private key is not an RSA key")
    return key


def load_public_key(material: str | bytes) -> PublicKey:
    """An RSA public key from PEM (SubjectPublicKeyInfo or PKCS#1), a bare base64 DER body,
    or the X.509 certificate PEM that certificate mode (公钥证书) hands out."""
    data, is_pem = _key_bytes(material)
    if is_pem and _CERTIFICATE_MARKER in data:
        try:
            certificate = x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise KeyFormatError("certificate could not be loaded") from exc
        data = certificate.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    try:
        loader = serialization.load_pem_public_key if is_pem else serialization.load_der_public_key
        key = loader(data)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError("public key could not be loaded (SPKI or PKCS#1 expected)") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyFormatError("public key is not an RSA key")
    return key


def generate_private_key(key_size: int = 2048) -> PrivateKey:
    """A fresh RSA key (for sandboxes and tests; production keys come from settings)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def private_key_pem(key: PrivateKey, *, pkcs1: bool = False) -> str:
    """PEM text of a private key, PKCS#8 unless `pkcs1`."""
    formats = serialization.PrivateFormat
    fmt = formats.TraditionalOpenSSL if pkcs1 else formats.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode("ascii")


def public_key_pem(key: PublicKey) -> str:
    """PEM text (SubjectPublicKeyInfo) of a public key."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def public_key_base64(key: PublicKey) -> str:
    """The bare base64 DER body of a public key, as Alipay's console shows it."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")

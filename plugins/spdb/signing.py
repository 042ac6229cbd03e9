"""Client of the bank's local signing server, and the server's answers (shared with the sandbox)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from xml.sax.saxutils import escape

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from plugins.spdb.errors import SignatureRejected, SigningServerError
from plugins.spdb.packet import ENCODING, encode

SIGN_CONTENT_TYPE = "INFOSEC_SIGN/1.0"
VERIFY_CONTENT_TYPE = "INFOSEC_VERIFY_SIGN/1.0"
# Answer content types as one public client checks them; this client does not rely on them.
SIGN_RESULT_CONTENT_TYPE = "INFOSEC_SIGN_RESULT/1.0"
VERIFY_RESULT_CONTENT_TYPE = "INFOSEC_VERIFY_SIGN_RESULT/1.0"

_RESULT = re.compile(r"<result>\s*(-?\d+)\s*</result>", re.IGNORECASE)
_SIGN = re.compile(r"<sign>(.*?)</sign>", re.DOTALL | re.IGNORECASE)
_BODY = re.compile(r"<body>(.*)</body>", re.DOTALL | re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
_WHITESPACE = re.compile(r"\s+")


class SigningServerClient:
    """Talks to the signing server the bank installs next to the front machine.

    Signing: POST the GBK body with `Content-Type: INFOSEC_SIGN/1.0`; the answer is
    `<html><head><result>0</result></head><body><sign>BASE64</sign></body></html>`, the base64
    being a PKCS#7 SignedData that embeds the body. Verifying: POST the base64 signature with
    `Content-Type: INFOSEC_VERIFY_SIGN/1.0`; the answer carries the signed plaintext in
    `<sic>`. Pointing at the real server or at the sandbox is only a matter of `url`.
    """

    def __init__(self, session: aiohttp.ClientSession, url: str, timeout_seconds: float) -> None:
        self._session = session
        self._url = url
        self._timeout_seconds = timeout_seconds

    async def sign(self, plaintext: str) -> str:
        """The base64 SignedData of `plaintext` (line breaks removed)."""
        return parse_sign_result(await self._post(SIGN_CONTENT_TYPE, encode(plaintext)))

    async def verify(self, signature: str) -> str:
        """The plaintext a signature carries; `SignatureRejected` when the server refuses it."""
        return parse_verify_result(await self._post(VERIFY_CONTENT_TYPE, signature.encode("ascii")))

    async def _post(self, content_type: str, payload: bytes) -> bytes:
        timeout = aiohttp.ClientTimeout(total=self._timeout_seconds)
        try:
            async with self._session.post(
                self._url, data=payload, headers={"Content-Type": content_type}, timeout=timeout
            ) as response:
                status = response.status
                body = await response.read()
        except TimeoutError as exc:
            raise SigningServerError(
                f"signing server gave no answer within {self._timeout_seconds}s"
            ) from exc
        except aiohttp.ClientError as exc:
            raise SigningServerError(f"signing server unreachable: {exc}") from exc
        if status != 200:
            raise SigningServerError(f"signing server answered HTTP {status}")
        return body


# -- the answers ---------------------------------------------------------------------------


def parse_sign_result(raw: bytes) -> str:
    text = _decode(raw)
    _check_result(text, SigningServerError)
    match = _SIGN.search(text)
    signature = _WHITESPACE.sub("", match.group(1)) if match else ""
    if not signature:
        raise SigningServerError("signing server answer carries no <sign>")
    try:
        base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SigningServerError("signing server <sign> is not base64") from exc
    return signature


def parse_verify_result(raw: bytes) -> str:
    text = _decode(raw)
    _check_result(text, SignatureRejected)
    # The plaintext is XML itself and is not escaped: take everything between the markers.
    start, end = text.find("<sic>"), text.rfind("</sic>")
    if start < 0 or end < start:
        raise SigningServerError("signing server answer carries no <sic>")
    return text[start + len("<sic>") : end]


def render_sign_result(signature: str, *, line_length: int = 64) -> bytes:
    """A signing answer; the base64 is wrapped as some signing servers do, to keep clients
    honest about stripping line breaks."""
    lines = "\n".join(signature[i : i + line_length] for i in range(0, len(signature), line_length))
    html = (
        "<html><head><title>签名结果</title><result>0</result></head>"
        f"<body><sign>{lines}</sign></body></html>"
    )
    return encode(html)


def render_verify_result(plaintext: str, signer: x509.Certificate) -> bytes:
    der = signer.public_bytes(serialization.Encoding.DER)
    html = (
        "<html>\n<head>\n<title>验签结果</title>\n<result>0</result>\n</head>\n<body>\n"
        f"<sic>{plaintext}</sic>\n"
        f"<cert>{base64.b64encode(der).decode('ascii')}</cert>\n"
        f"<certdn>{escape(signer.subject.rfc4514_string())}</certdn>\n"
        f"<issuer>{escape(signer.issuer.rfc4514_string())}</issuer>\n"
        f"<starttime>{_cert_time(signer.not_valid_before_utc)}</starttime>\n"
        f"<endtime>{_cert_time(signer.not_valid_after_utc)}</endtime>\n"
        f"<certsn>{signer.serial_number}</certsn>\n"
        "</body>\n</html>\n"
    )
    return encode(html)


def render_failure(result: int, message: str) -> bytes:
    html = (
        f"<html><head><title>错误</title><result>{result}</result></head>"
        f"<body>{escape(message)}</body></html>"
    )
    return encode(html)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode(ENCODING)
    except UnicodeDecodeError as exc:
        raise SigningServerError(f"signing server answer is not {ENCODING} text") from exc


def _check_result(text: str, error: type[SigningServerError]) -> None:
    match = _RESULT.search(text)
    if match is None:
        raise SigningServerError("signing server answer carries no <result>")
    if match.group(1) != "0":
        body = _BODY.search(text)
        message = _TAGS.sub(" ", body.group(1)).strip() if body else ""
        raise error(f"signing server result {match.group(1)}: {message or 'no message'}")


def _cert_time(moment: datetime) -> str:
    return moment.strftime("%b %d %H:%M:%S %Y GMT")

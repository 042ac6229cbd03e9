"""Asynchronous notifications (form POSTs from Alipay): parse, verify, and sign for sandboxes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl

from core.errors import InvalidArgument
from core.money import Money
from plugins.alipay_openapi.errors import NotifyVerificationError
from plugins.alipay_openapi.signing import (
    SIGN_TYPE,
    PrivateKey,
    PublicKey,
    build_sign_content,
    sign_content,
    verify_content,
)

NOTIFY_EXCLUDED = ("sign", "sign_type")
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_CANONICAL_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
ACKNOWLEDGEMENT = "success"  # the plain body Alipay expects; anything else makes it retry
NOTICE_CURRENCY = "CNY"  # Alipay's notifications state yuan amounts without a currency field


def notice_amount(raw: object, name: str) -> Money | None:
    """The yuan amount a verified notification states in `name` (None when it states none);
    raises NotifyVerificationError when it is no amount of yuan."""
    if raw is None or raw == "":
        return None
    try:
        return Money.parse(str(raw).strip(), NOTICE_CURRENCY, field=name, allow_zero=True)
    except InvalidArgument as exc:
        raise NotifyVerificationError(f"{name} {raw!r} is not an amount of yuan") from exc


@dataclass(frozen=True, slots=True)
class VerifiedNotification:
    """A notification whose signature verified. `fields` are the URL-decoded form fields
    (without `sign`); `biz_content` is parsed when the notification is a message."""

    fields: Mapping[str, str]
    biz_content: Mapping[str, Any] | None = field(default=None)

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if value else None

    @property
    def app_id(self) -> str | None:
        return self.get("app_id")

    @property
    def notify_id(self) -> str | None:
        return self.get("notify_id")

    @property
    def notify_type(self) -> str | None:
        return self.get("notify_type")

    @property
    def msg_method(self) -> str | None:
        return self.get("msg_method")


def parse_notify_form(body: bytes | str, *, charset: str | None = None) -> dict[str, str]:
    """URL-decode a form body into fields, in the charset it declares (`charset` field)."""
    text = body.decode("ascii", "replace") if isinstance(body, bytes) else body
    if charset is None:
        declared = {k: v for k, v in parse_qsl(text, keep_blank_values=True, encoding="latin-1")}
        charset = declared.get("charset") or "utf-8"
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except (LookupError, UnicodeDecodeError) as exc:
        raise NotifyVerificationError(f"notification is not valid {charset!r} form data") from exc
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise NotifyVerificationError(f"notification field {key!r} appears twice")
        fields[key] = value
    return fields


def notify_sign_content(fields: Mapping[str, str]) -> str:
    """What an async notification's `sign` covers: all fields but sign and sign_type."""
    return build_sign_content(fields, exclude=NOTIFY_EXCLUDED)


def verify_notification(
    fields: Mapping[str, str],
    alipay_public_key: PublicKey,
    *,
    expected_app_id: str | None = None,
) -> VerifiedNotification:
    """Verify URL-decoded notification fields with Alipay's public key.

    Raises `NotifyVerificationError` for a missing or wrong signature, a sign type other than
    RSA2, another app's notification, or an unparsable `biz_content`.
    """
    signature = fields.get("sign")
    if not signature:
        raise NotifyVerificationError("notification carries no signature")
    sign_type = fields.get("sign_type")
    if sign_type and sign_type != SIGN_TYPE:
        raise NotifyVerificationError(f"notification sign_type {sign_type!r} is not {SIGN_TYPE}")
    if not verify_content(notify_sign_content(fields), signature, alipay_public_key):
        raise NotifyVerificationError("notification failed signature verification")
    if expected_app_id is not None and fields.get("app_id") != expected_app_id:
        raise NotifyVerificationError("notification is addressed to another app_id")
    biz_content: Mapping[str, Any] | None = None
    raw_biz = fields.get("biz_content")
    if raw_biz:
        try:
            parsed = json.loads(raw_biz)
        except ValueError as exc:
            raise NotifyVerificationError("notification biz_content is not JSON") from exc
        if not isinstance(parsed, dict):
            raise NotifyVerificationError("notification biz_content is not a JSON object")
        biz_content = MappingProxyType(parsed)
    kept = {key: value for key, value in fields.items() if key != "sign"}
    return VerifiedNotification(fields=MappingProxyType(kept), biz_content=biz_content)


def verify_notify_body(
    body: bytes | str,
    alipay_public_key: PublicKey,
    *,
    expected_app_id: str | None = None,
) -> VerifiedNotification:
    """Parse and verify a raw notification form body in one step."""
    return verify_notification(parse_notify_form(body), alipay_public_key, expected_app_id=expected_app_id)


def sign_notification(fields: Mapping[str, str], private_key: PrivateKey) -> dict[str, str]:
    """Fields plus `sign_type` and `sign`, as Alipay would post them (used by sandboxes)."""
    signed = {key: value for key, value in fields.items() if key not in NOTIFY_EXCLUDED}
    signed["sign_type"] = SIGN_TYPE
    signed["sign"] = sign_content(notify_sign_content(signed), private_key)
    return signed


def verify_form_post(
    headers: Mapping[str, str],
    body: bytes,
    alipay_public_key: PublicKey,
    *,
    expected_app_id: str | None = None,
) -> VerifiedNotification:
    """A notification as it reaches the gateway over HTTP: a form POST whose signature is
    canonical base64 (no padding games or stray characters around it) and verifies.

    Raises `NotifyVerificationError` for anything else: it must change nothing.
    """
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if not content_type.lower().startswith(FORM_CONTENT_TYPE):
        raise NotifyVerificationError("an Alipay notification is a form post")
    fields = parse_notify_form(body)
    if not _CANONICAL_BASE64.fullmatch(fields.get("sign", "")):
        raise NotifyVerificationError("notification signature is not canonical base64")
    return verify_notification(fields, alipay_public_key, expected_app_id=expected_app_id)

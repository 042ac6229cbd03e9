"""Alipay OpenAPI wire library (RSA2 signing, envelopes, notify, client, sandbox); no hooks."""

from __future__ import annotations

from plugins.alipay_openapi.client import (
    AlipayClient,
    SignedRequest,
    encode_biz_content,
)
from plugins.alipay_openapi.codes import GatewayCode, SubCodeClass, classify_sub_code, is_system_fault
from plugins.alipay_openapi.envelope import (
    SignedEnvelope,
    VerifiedEnvelope,
    extract_envelope,
    open_envelope,
    response_key,
)
from plugins.alipay_openapi.errors import (
    AlipayError,
    KeyFormatError,
    MalformedResponseError,
    NotifyVerificationError,
    OpenApiError,
    RequestNotSentError,
    ResponseSignatureError,
    TransportError,
    UnknownOutcomeError,
    outcome_code,
)
from plugins.alipay_openapi.notify import (
    VerifiedNotification,
    parse_notify_form,
    verify_form_post,
    verify_notification,
    verify_notify_body,
)
from plugins.alipay_openapi.response import OpenApiResponse
from plugins.alipay_openapi.settings import AlipayOpenApiSettings

__all__ = [
    "AlipayClient",
    "AlipayError",
    "AlipayOpenApiSettings",
    "GatewayCode",
    "KeyFormatError",
    "MalformedResponseError",
    "NotifyVerificationError",
    "OpenApiError",
    "OpenApiResponse",
    "RequestNotSentError",
    "ResponseSignatureError",
    "SignedEnvelope",
    "SignedRequest",
    "SubCodeClass",
    "TransportError",
    "UnknownOutcomeError",
    "VerifiedEnvelope",
    "VerifiedNotification",
    "classify_sub_code",
    "encode_biz_content",
    "extract_envelope",
    "is_system_fault",
    "open_envelope",
    "outcome_code",
    "parse_notify_form",
    "response_key",
    "verify_form_post",
    "verify_notification",
    "verify_notify_body",
]

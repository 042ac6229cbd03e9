"""Errors of the Alipay OpenAPI library, grouped by what the caller may conclude from them."""

from __future__ import annotations


class AlipayError(Exception):
    """Base of every error raised by the Alipay OpenAPI library."""


class KeyFormatError(AlipayError, ValueError):
    """An RSA key could not be loaded from the configured text (the text itself is never shown)."""


class RequestNotSentError(AlipayError):
    """Nothing reached Alipay: the request could not be built or signed, or no connection was
    opened. `code` (stable) says which: INVALID_REQUEST or CONNECT_FAILED. The caller may
    treat the request as never made."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


INVALID_REQUEST = "INVALID_REQUEST"
CONNECT_FAILED = "CONNECT_FAILED"


class UnknownOutcomeError(AlipayError):
    """The request may or may not have taken effect at Alipay.

    The caller must query the order (or resend the *same* request with the same business
    number); it must never treat this as a failure, nor send a new request with a new number.
    """


class TransportError(UnknownOutcomeError):
    """The HTTP exchange failed once a connection was open (reset, dropped, timeout) or
    answered a non-200 status. A connection that could not be opened is `RequestNotSentError`."""

    def __init__(self, message: str, *, timed_out: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.status = status


class ResponseSignatureError(UnknownOutcomeError):
    """The answer's signature is missing or does not verify with Alipay's public key.

    Its content is untrusted: whatever it says (even "success") must not be acted upon.
    """


class MalformedResponseError(UnknownOutcomeError):
    """The answer is not an Alipay response envelope (not JSON, no `*_response` member, ...)."""


class OpenApiError(AlipayError):
    """A verified answer whose gateway code is not 10000; raised by `raise_for_code()`."""

    def __init__(self, message: str, *, code: str, sub_code: str | None, sub_msg: str | None) -> None:
        super().__init__(message)
        self.code = code
        self.sub_code = sub_code
        self.sub_msg = sub_msg


class NotifyVerificationError(AlipayError):
    """An asynchronous notification failed verification: it must change nothing."""


def outcome_code(exc: UnknownOutcomeError | RequestNotSentError) -> str:
    """A stable code for why a call got no answer: TIMEOUT, TRANSPORT_ERROR, BAD_SIGNATURE or
    MALFORMED_ANSWER, or the code of a request not sent."""
    if isinstance(exc, RequestNotSentError):
        return exc.code
    if isinstance(exc, TransportError):
        return "TIMEOUT" if exc.timed_out else "TRANSPORT_ERROR"
    if isinstance(exc, ResponseSignatureError):
        return "BAD_SIGNATURE"
    return "MALFORMED_ANSWER"

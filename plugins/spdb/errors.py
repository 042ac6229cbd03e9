"""Errors of the SPDB channel, split by what they mean for the payment's outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plugins.spdb.exchange import Exchange


class SpdbError(Exception):
    """Base of every error raised by the SPDB channel code."""


class PacketError(SpdbError, ValueError):
    """A packet could not be built from the given fields (bad tag, not GBK, too large)."""


class MalformedPacket(SpdbError):
    """Bytes that are not a well-formed bank-enterprise packet or body."""


class SignatureInvalid(SpdbError):
    """A PKCS#7 SignedData failed to parse or to verify against the trusted certificates."""


class SigningServerError(SpdbError):
    """The local signing server could not sign or verify (down, timed out, odd answer).

    Raised by the signing-server client itself. Before a packet is sent it means nothing
    reached the bank, so the call may simply be repeated.
    """


class SignatureRejected(SigningServerError):
    """The signing server answered a verification with a non-zero result: the signature is bad."""


class NotSent(SpdbError):
    """Nothing reached the front machine: the payment could not be checked, encoded or signed,
    or no connection to the front machine was opened. `code` (stable) says which; the bank
    cannot have acted on the request.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# the stable codes of NotSent
INVALID_PAYEE = "INVALID_PAYEE"  # a payee field is missing or not one the bank takes
INVALID_REQUEST = "INVALID_REQUEST"  # another field of the payment the bank would refuse
PACKET_ERROR = "PACKET_ERROR"  # the body cannot be built (text outside GBK, too large ...)
SIGNING_FAILED = "SIGNING_FAILED"  # the local signing server could not sign: nothing was sent
CONNECT_FAILED = "CONNECT_FAILED"  # no connection to the front machine was opened


class OutcomeUnknown(SpdbError):
    """The packet may have reached the bank but no trustworthy answer came back.

    Never read as success or failure: only a later 8804 query can tell. `exchange` keeps what
    was sent and whatever came back, for `bank_res_error`.
    """

    def __init__(self, message: str, exchange: Exchange) -> None:
        super().__init__(message)
        self.exchange = exchange


class TransportFailed(OutcomeUnknown):
    """The exchange with the front machine failed once a connection was open (reset, dropped,
    a non-200 HTTP status): the packet may have arrived. A connection that could not be
    opened at all is `NotSent` (`CONNECT_FAILED`) instead."""


class CallTimedOut(OutcomeUnknown):
    """No answer from the front machine within `timeout_seconds`."""


class MalformedAnswer(OutcomeUnknown):
    """The front machine's answer is not a well-formed packet (or not the answer to our packet)."""


class UnsignedAnswer(OutcomeUnknown):
    """A success answer (`AAAAAAA`) without the signature that every success answer must carry."""


class BadSignature(OutcomeUnknown):
    """The signing server refused the signature of a success answer."""


class VerificationUnavailable(OutcomeUnknown):
    """A success answer arrived but the signing server could not be asked to verify it."""


class BankSystemError(OutcomeUnknown):
    """The bank answered with a system error (`EGG0042`): retry or query, never read as failed."""

    def __init__(self, message: str, exchange: Exchange, return_code: str, return_msg: str) -> None:
        super().__init__(message, exchange)
        self.return_code = return_code
        self.return_msg = return_msg


class UnlistedRefusal(OutcomeUnknown):
    """An 8801 answer with an error code that is not on the list of definite refusals
    (`packet.DEFINITE_REFUSALS`): the bank may have taken the payment in all the same."""

    def __init__(self, message: str, exchange: Exchange, return_code: str, return_msg: str) -> None:
        super().__init__(message, exchange)
        self.return_code = return_code
        self.return_msg = return_msg


class QueryRejected(SpdbError):
    """The bank refused an 8804 query with an error code; says nothing about the payment."""

    def __init__(self, message: str, exchange: Exchange, return_code: str, return_msg: str) -> None:
        super().__init__(message)
        self.exchange = exchange
        self.return_code = return_code
        self.return_msg = return_msg

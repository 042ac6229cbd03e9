"""A channel's payment and query ports called with a deadline, and what a failed call means:
the one place of the rule "nothing sent is failed, anything else unknown" (on the shared
`call_channel`, which makes a timeout or a failed call unknown)."""

from __future__ import annotations

import logging

from core.usecases.shared.channel_calls import AnswerOfError, call_channel
from ports.channels import (
    Channel,
    ChannelCallError,
    ChannelResult,
    ChannelStatus,
    PaymentRequest,
    RequestNotSent,
)

log = logging.getLogger("paygate.payments")


async def submit_answer(channel: Channel, request: PaymentRequest, *, timeout: float) -> ChannelResult:
    """The channel's answer to a submit. A call that fails says nothing sent only by raising
    `RequestNotSent`: the payment fails with its code. Any other error, or no answer in time,
    is an unknown outcome, never a failure (the request may have left and the channel paid)."""
    assert channel.payment is not None
    return await call_channel(
        channel.payment.submit(request),
        timeout=timeout,
        unknown=_unknown,
        what=f"channel {channel.code} submit",
        context={"payment_id": request.payment_id},
        answer_of_error=_answer_of(channel, request, sent_matters=True),
    )


async def query_answer(
    channel: Channel, request: PaymentRequest, channel_ref: str | None, *, timeout: float
) -> ChannelResult:
    """The channel's answer to a query; a query that fails (sent or not: it learnt nothing)
    changes nothing but the schedule."""
    assert channel.query is not None
    return await call_channel(
        channel.query.query(request, channel_ref),
        timeout=timeout,
        unknown=_unknown,
        what=f"channel {channel.code} query",
        context={"payment_id": request.payment_id},
        answer_of_error=_answer_of(channel, request, sent_matters=False),
    )


def _unknown(code: str, message: str) -> ChannelResult:
    return ChannelResult(ChannelStatus.UNKNOWN, code=code, message=message)


def _answer_of(
    channel: Channel, request: PaymentRequest, *, sent_matters: bool
) -> AnswerOfError[ChannelResult]:
    """What a failed call's port error says: a submit not sent is failed with its code; any
    other `ChannelCallError` is unknown with its code; other exceptions are left to the shared
    helper (unknown, `CHANNEL_ERROR`)."""

    def answer(exc: Exception) -> ChannelResult | None:
        extra = {"payment_id": request.payment_id, "code": getattr(exc, "code", None)}
        if sent_matters and isinstance(exc, RequestNotSent):
            log.warning("payment request not sent", extra=extra)
            message = exc.message or f"request not sent to {channel.code}"
            return ChannelResult(ChannelStatus.FAILED, code=exc.code, message=message)
        if isinstance(exc, ChannelCallError):
            log.warning("channel %s got no answer", channel.code, extra=extra)
            return ChannelResult(ChannelStatus.UNKNOWN, code=exc.code, message=exc.message or None)
        return None

    return answer

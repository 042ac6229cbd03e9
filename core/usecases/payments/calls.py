"""A channel's payment and query ports called with a deadline, and what a failed call means:
the one place of the rule "nothing sent is failed, anything else unknown"."""

from __future__ import annotations

import asyncio
import logging

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
    try:
        return await asyncio.wait_for(channel.payment.submit(request), timeout=timeout)
    except RequestNotSent as unsent:
        log.warning(
            "payment request not sent",
            extra={"payment_id": request.payment_id, "code": unsent.code},
        )
        return ChannelResult(
            ChannelStatus.FAILED,
            code=unsent.code,
            message=unsent.message or f"request not sent to {channel.code}",
        )
    except Exception as exc:  # noqa: BLE001 - once it may have left, a failure is unknown
        return _unknown_after(exc, channel, request, timeout, "submit")


async def query_answer(
    channel: Channel, request: PaymentRequest, channel_ref: str | None, *, timeout: float
) -> ChannelResult:
    """The channel's answer to a query; a query that fails changes nothing but the schedule."""
    assert channel.query is not None
    try:
        return await asyncio.wait_for(channel.query.query(request, channel_ref), timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - a failed query changes nothing but the schedule
        return _unknown_after(exc, channel, request, timeout, "query")


def _unknown_after(
    exc: Exception, channel: Channel, request: PaymentRequest, timeout: float, operation: str
) -> ChannelResult:
    """The unknown answer of a call that failed: a query that was not sent learnt nothing either."""
    if isinstance(exc, TimeoutError):
        return ChannelResult(
            ChannelStatus.UNKNOWN,
            code="TIMEOUT",
            message=f"no {operation} answer from {channel.code} within {timeout}s",
        )
    if isinstance(exc, ChannelCallError):
        log.warning(
            "channel %s got no answer", operation, extra={"payment_id": request.payment_id, "code": exc.code}
        )
        return ChannelResult(ChannelStatus.UNKNOWN, code=exc.code, message=exc.message or None)
    log.exception("channel %s failed", operation, extra={"payment_id": request.payment_id})
    return ChannelResult(ChannelStatus.UNKNOWN, code="CHANNEL_ERROR", message=type(exc).__name__)

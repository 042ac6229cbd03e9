"""A channel's payment and query ports called with a deadline, and what a failed call means."""

from __future__ import annotations

import asyncio
import logging

from ports.channels import Channel, ChannelResult, ChannelStatus, PaymentRequest

log = logging.getLogger("paygate.payments")


async def submit_answer(channel: Channel, request: PaymentRequest, *, timeout: float) -> ChannelResult:
    """The channel's answer to a submit; a call that fails or runs out of time is an unknown
    outcome, never a failure (the channel may have paid)."""
    assert channel.payment is not None
    try:
        return await asyncio.wait_for(channel.payment.submit(request), timeout=timeout)
    except TimeoutError:
        return ChannelResult(
            ChannelStatus.UNKNOWN,
            code="TIMEOUT",
            message=f"no answer from {channel.code} within {timeout}s",
        )
    except Exception as exc:  # noqa: BLE001 - any failure of the call leaves the outcome unknown
        log.exception("channel submit failed", extra={"payment_id": request.payment_id})
        return ChannelResult(ChannelStatus.UNKNOWN, code="CHANNEL_ERROR", message=type(exc).__name__)


async def query_answer(
    channel: Channel, request: PaymentRequest, channel_ref: str | None, *, timeout: float
) -> ChannelResult:
    """The channel's answer to a query; a query that fails changes nothing but the schedule."""
    assert channel.query is not None
    try:
        return await asyncio.wait_for(channel.query.query(request, channel_ref), timeout=timeout)
    except TimeoutError:
        return ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT", message="query timed out")
    except Exception as exc:  # noqa: BLE001 - a failed query changes nothing but the schedule
        log.exception("channel query failed", extra={"payment_id": request.payment_id})
        return ChannelResult(ChannelStatus.UNKNOWN, code="CHANNEL_ERROR", message=type(exc).__name__)

"""Mapping an Alipay status to a ChannelResult, shared by every Alipay channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ports.channels import ChannelResult, ChannelStatus, Exchange


def mapped_result(
    mapped: ChannelStatus | None,
    *,
    ref: str | None,
    raw_status: str | None,
    source: str,
    failure_code: str | None = None,
    failure_message: str | None = None,
    exchanges: tuple[Exchange, ...] = (),
    raw: Mapping[str, Any] | None = None,
) -> ChannelResult:
    """`mapped` is the channel's reading of `raw_status`; a status it does not know (None) is an
    unknown outcome, never a failure. A failure or a return carries `failure_code` (default: the raw
    status) and `failure_message`."""
    if mapped is None:
        return ChannelResult(
            ChannelStatus.UNKNOWN,
            channel_ref=ref,
            code="UNRECOGNISED_STATUS",
            message=f"{source} carries status {raw_status!r}",
            exchanges=exchanges,
        )
    # a return (paid, then the money came back) says why as a failure does
    failed = mapped in (ChannelStatus.FAILED, ChannelStatus.RETURNED)
    return ChannelResult(
        mapped,
        channel_ref=ref,
        code=(failure_code or raw_status) if failed else None,
        message=failure_message if failed else None,
        raw=dict(raw or {}),
        exchanges=exchanges,
    )

"""Calling a channel port with a deadline: a timeout or a failure of the call is an unknown
outcome, never a failure (the channel may have acted on the request)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

Unknown = Callable[[str, str], T]
"""Builds the port's answer for an unknown outcome from (code, message)."""
AnswerOfError = Callable[[Exception], T | None]
"""The answer a failed call's own exception carries (e.g. a request the adapter knows it never
sent: a definite failure), or None: the outcome is unknown."""

log = logging.getLogger("paygate.channels")


async def call_channel(
    call: Awaitable[T],
    *,
    timeout: float,
    unknown: Unknown[T],
    what: str = "channel call",
    context: Mapping[str, Any] | None = None,
    answer_of_error: AnswerOfError[T] | None = None,
) -> T:
    """The channel's answer to `call`, or `unknown("TIMEOUT", …)` when it gives none within
    `timeout` seconds. A call that fails answers what `answer_of_error` makes of its exception,
    else `unknown("CHANNEL_ERROR", <exception type>)` (logged with `context`)."""
    try:
        return await asyncio.wait_for(call, timeout=timeout)
    except TimeoutError:
        return unknown("TIMEOUT", f"no answer within {timeout}s")
    except Exception as exc:  # noqa: BLE001 - any failure of the call leaves the outcome unknown
        answer = answer_of_error(exc) if answer_of_error is not None else None
        if answer is not None:
            return answer
        log.exception("%s failed", what, extra=dict(context or {}))
        return unknown("CHANNEL_ERROR", type(exc).__name__)

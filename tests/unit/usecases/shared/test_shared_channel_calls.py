"""call_channel: the port's answer within the deadline; a timeout or a failed call is unknown."""

from __future__ import annotations

import asyncio

import pytest

from core.usecases.shared.channel_calls import call_channel


def unknown(code: str, message: str) -> tuple[str, str, str]:
    return ("unknown", code, message)


async def answer(value: tuple[str, str, str], delay: float = 0.0) -> tuple[str, str, str]:
    await asyncio.sleep(delay)
    return value


async def test_an_answer_within_the_deadline_is_returned_as_it_is() -> None:
    got = await call_channel(answer(("succeeded", "", "")), timeout=1.0, unknown=unknown)
    assert got == ("succeeded", "", "")


async def test_no_answer_within_the_deadline_is_an_unknown_timeout() -> None:
    got = await call_channel(answer(("succeeded", "", ""), delay=1.0), timeout=0.01, unknown=unknown)
    assert got == ("unknown", "TIMEOUT", "no answer within 0.01s")


async def test_a_failed_call_is_an_unknown_channel_error_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> tuple[str, str, str]:
        raise ConnectionResetError("peer went away")

    got = await call_channel(
        broken(), timeout=1.0, unknown=unknown, what="alipay submit", context={"payment_id": "pay_1"}
    )
    assert got == ("unknown", "CHANNEL_ERROR", "ConnectionResetError")
    [logged] = [r for r in caplog.records if r.name == "paygate.channels"]
    assert logged.getMessage() == "alipay submit failed" and logged.__dict__["payment_id"] == "pay_1"


async def test_a_cancelled_caller_is_not_turned_into_an_answer() -> None:
    task = asyncio.create_task(call_channel(answer(("x", "", ""), delay=1.0), timeout=5.0, unknown=unknown))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class NotSent(Exception):
    """An adapter's way of saying that nothing left the gateway."""


def refused_if_not_sent(exc: Exception) -> tuple[str, str, str] | None:
    return ("failed", "NOT_SENT", str(exc)) if isinstance(exc, NotSent) else None


async def test_an_error_the_caller_reads_as_an_answer_gives_that_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def unsent() -> tuple[str, str, str]:
        raise NotSent("no connection")

    got = await call_channel(unsent(), timeout=1.0, unknown=unknown, answer_of_error=refused_if_not_sent)
    assert got == ("failed", "NOT_SENT", "no connection")
    assert not [r for r in caplog.records if r.name == "paygate.channels"]


async def test_an_error_the_caller_cannot_read_stays_unknown() -> None:
    async def broken() -> tuple[str, str, str]:
        raise ValueError("garbled answer")

    got = await call_channel(broken(), timeout=1.0, unknown=unknown, answer_of_error=refused_if_not_sent)
    assert got == ("unknown", "CHANNEL_ERROR", "ValueError")


async def test_a_timeout_stays_unknown_whatever_the_caller_reads_from_errors() -> None:
    got = await call_channel(
        answer(("succeeded", "", ""), delay=1.0),
        timeout=0.01,
        unknown=unknown,
        answer_of_error=refused_if_not_sent,
    )
    assert got[:2] == ("unknown", "TIMEOUT")

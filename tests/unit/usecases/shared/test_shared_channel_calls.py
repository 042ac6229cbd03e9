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

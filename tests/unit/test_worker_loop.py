"""The workers' shared loop: a step every interval, at once when woken, until stopped; a failing
step is logged and the loop goes on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.workers.loop import run_periodically

AN_HOUR = 3600.0


async def test_a_wake_runs_the_step_again_before_the_interval_is_over() -> None:
    stop, wake, first_ran = asyncio.Event(), asyncio.Event(), asyncio.Event()
    runs = 0

    async def step() -> None:
        nonlocal runs
        wake.clear()  # as a worker does when it takes what woke it
        runs += 1
        first_ran.set()
        if runs == 2:
            stop.set()

    loop = asyncio.create_task(run_periodically("test", AN_HOUR, step, stop, wake=wake))
    await asyncio.wait_for(first_ran.wait(), timeout=5)
    wake.set()
    await asyncio.wait_for(loop, timeout=5)
    assert runs == 2


async def test_stop_ends_the_wait_at_once() -> None:
    stop, ran = asyncio.Event(), asyncio.Event()

    async def step() -> None:
        ran.set()

    loop = asyncio.create_task(run_periodically("test", AN_HOUR, step, stop))
    await asyncio.wait_for(ran.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(loop, timeout=5)


async def test_a_failing_step_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    runs = 0

    async def step() -> None:
        nonlocal runs
        wake.clear()
        runs += 1
        if runs == 1:
            wake.set()  # come back at once, so that the second round needs no timer
            raise RuntimeError("a passing fault")
        stop.set()

    with caplog.at_level(logging.ERROR, logger="paygate.workers"):
        await asyncio.wait_for(run_periodically("flaky", AN_HOUR, step, stop, wake=wake), timeout=5)
    assert runs == 2
    [failure] = [r for r in caplog.records if r.name == "paygate.workers"]
    assert failure.worker == "flaky" and failure.exc_info is not None

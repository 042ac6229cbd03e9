"""ports.work_guard.only_its_own_waits: a ledger payment's work may wait on its unit of work (a
real wait, as a SQLAlchemy connection's) and on nothing else; a cancellation reaches the work."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from ports.storage import LedgerWork
from ports.work_guard import only_its_own_waits


class SlowPayments:
    """A repository whose calls really wait (as a database round trip does)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def get(self, payment_id: str) -> str:
        self.started.set()
        await asyncio.sleep(0.001)
        return f"found {payment_id}"


class SlowWork:
    def __init__(self) -> None:
        self.payments = SlowPayments()

    async def record_transfer(self, *args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0)

    def after_commit(self, action: str) -> str:  # a plain method, as UnitOfWork.after_commit
        return f"registered {action}"


def uow() -> LedgerWork:
    return cast(LedgerWork, SlowWork())


async def test_waits_inside_the_unit_of_work_are_allowed() -> None:
    async def work(u: LedgerWork) -> Any:
        await u.record_transfer()  # type: ignore[call-arg]
        return await u.payments.get("pay_1")

    assert await only_its_own_waits(work, uow()) == "found pay_1"


async def test_a_wait_outside_the_unit_of_work_is_refused_and_the_work_is_closed() -> None:
    closed: list[bool] = []

    async def work(u: LedgerWork) -> None:
        try:
            await u.payments.get("pay_1")
            await asyncio.sleep(0.001)
        finally:
            closed.append(True)

    with pytest.raises(RuntimeError, match="may only use its unit of work"):
        await only_its_own_waits(work, uow())
    assert closed == [True]


async def test_a_cancellation_during_a_wait_of_the_unit_of_work_reaches_the_work() -> None:
    seen: list[str] = []
    u = uow()

    async def work(w: LedgerWork) -> None:
        try:
            await w.payments.get("pay_1")
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = asyncio.create_task(only_its_own_waits(work, u))
    await cast(SlowWork, u).payments.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


async def test_a_work_that_is_no_coroutine_is_refused() -> None:
    def not_async(u: LedgerWork) -> Any:
        return 1

    with pytest.raises(TypeError):
        await only_its_own_waits(not_async, uow())


async def test_a_plain_method_of_the_unit_of_work_is_called_as_it_is() -> None:
    """Not turned into a coroutine that nobody awaits (an after-commit action would be lost)."""

    async def work(u: Any) -> Any:
        first = u.after_commit("sms")
        return first, u.after_commit("again"), await u.payments.get("pay_1"), await u.payments.get("pay_2")

    assert await only_its_own_waits(work, uow()) == (
        "registered sms",
        "registered again",
        "found pay_1",
        "found pay_2",
    )

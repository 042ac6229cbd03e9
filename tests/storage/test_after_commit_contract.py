"""A unit of work's after-commit actions (ports/after_commit.py), on every whole unit of work
(the in-memory fake, SqlUnitOfWork on SQLite with and without the writer, and on PostgreSQL):
they run once the transaction is committed and left, never after a rollback, and a failing
one is logged while the committed transaction stands."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from storage_harness import StorageUnderTest
from test_workflow_repositories_contract import payout

from core.payouts.model import PayoutStatus
from ports.storage import UnitOfWork

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)


class Rolled(Exception):
    """Raised inside a unit of work: it rolls back."""


async def status_of(storage: StorageUnderTest, payout_id: str) -> PayoutStatus | None:
    async with storage.units() as uow:
        found = await uow.payouts.get(payout_id)
    return None if found is None else found.status


async def test_an_action_runs_after_the_commit_when_the_unit_of_work_is_left(
    storage: StorageUnderTest,
) -> None:
    order: list[str] = []

    async def action() -> None:
        order.append(f"action saw {await status_of(storage, 'pyt_1')}")

    async with storage.units() as uow:
        await uow.payouts.add(payout())
        uow.after_commit(action)
        await uow.commit()
        order.append("committed")
    assert order == ["committed", f"action saw {PayoutStatus.PENDING_REVIEW}"]


async def test_an_action_holds_no_lock_of_its_transaction(storage: StorageUnderTest) -> None:
    """The action writes the row its transaction wrote and locked: on SQLite it needs the
    writer's turn (or the database lock), on PostgreSQL the row lock; none of them is held."""
    await storage.in_uow(lambda uow: uow.payouts.add(payout()))

    async def approve_it_again(uow: UnitOfWork) -> None:
        found = await uow.payouts.get_for_update("pyt_1")
        assert found is not None
        await uow.payouts.save(replace(found, status=PayoutStatus.APPROVED), expected_status=found.status)

    async def action() -> None:
        await asyncio.wait_for(storage.in_uow(approve_it_again), 5)

    async with storage.units() as uow:
        locked = await uow.payouts.get_for_update("pyt_1")
        assert locked is not None
        await uow.payouts.save(replace(locked, updated_at=LATER), expected_status=locked.status)
        uow.after_commit(action)
        await uow.commit()
    assert await status_of(storage, "pyt_1") is PayoutStatus.APPROVED


async def test_a_rollback_drops_the_actions(storage: StorageUnderTest) -> None:
    ran: list[str] = []

    async def action() -> None:
        ran.append("ran")

    with pytest.raises(Rolled):
        async with storage.units() as uow:
            await uow.payouts.add(payout())
            uow.after_commit(action)
            raise Rolled
    async with storage.units() as uow:  # left without a commit
        uow.after_commit(action)
    async with storage.units() as uow:  # added after the commit: its own commit never comes
        await uow.commit()
        uow.after_commit(action)
    assert ran == [] and await status_of(storage, "pyt_1") is None


async def test_a_failing_action_is_logged_and_the_commit_stands(
    storage: StorageUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    async def failing() -> None:
        raise ConnectionError("sms gateway down")

    async def next_one() -> None:
        ran.append("next")

    async with storage.units() as uow:
        await uow.payouts.add(payout())
        uow.after_commit(failing)
        uow.after_commit(next_one)
        await uow.commit()
    assert ran == ["next"] and await status_of(storage, "pyt_1") is PayoutStatus.PENDING_REVIEW
    [logged] = [r for r in caplog.records if r.name == "paygate.storage"]
    assert logged.exc_info is not None and "sms gateway down" in str(logged.exc_info[1])

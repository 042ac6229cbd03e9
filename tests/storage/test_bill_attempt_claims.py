"""The bill repository's claims on attempts to send (`claim_attempt`, `attempts_to_send`): one
conditional update per claim, so two bill send workers never send one attempt; run on every
implementation of a whole unit of work (the fake, SqlUnitOfWork on SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from storage_harness import StorageUnderTest
from test_workflow_repositories_contract import NOW, bill

from core.bills.model import Bill, BillStatus
from ports.storage import UnitOfWork

MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _databases_migrated_first(sqlite_template: Path, postgres_database: str | None) -> None:
    """The migrated template databases, built before the async `storage` fixture asks for them
    (their migrations run their own event loop), also when this module runs alone."""


def submitted(attempt: int = 1) -> Bill:
    return bill(status=BillStatus.BANK_SUBMITTED, pay_mode="bank", attempt=attempt)


async def _claim(
    storage: StorageUnderTest, holder: str, attempt: int = 1, at: timedelta = MINUTE * 0
) -> bool:
    now = NOW + at

    async def claim(uow: UnitOfWork) -> bool:
        return await uow.bills.claim_attempt("bill_1", attempt, holder=holder, until=now + MINUTE, now=now)

    claimed: bool = await storage.in_uow(claim)
    return claimed


async def _to_send(storage: StorageUnderTest, at: timedelta) -> list[str]:
    async def read(uow: UnitOfWork) -> list[str]:
        return [b.id for b in await uow.bills.attempts_to_send(NOW + at, 10)]

    found: list[str] = await storage.in_uow(read)
    return found


async def test_an_attempt_is_claimed_by_one_worker_until_its_claim_expires(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.bills.add(submitted()))
    assert await _to_send(storage, MINUTE * 0) == ["bill_1"]

    assert await _claim(storage, "worker-a")
    assert not await _claim(storage, "worker-b"), "never two senders of one attempt"
    assert await _to_send(storage, MINUTE * 0) == []
    assert not await _claim(storage, "worker-a", attempt=2), "only the bill's current attempt"

    assert await _to_send(storage, MINUTE * 2) == ["bill_1"], "a stopped worker's claim expires"
    assert await _claim(storage, "worker-b", at=MINUTE * 2)


async def test_a_bill_that_moved_on_is_neither_sent_nor_claimed(storage: StorageUnderTest) -> None:
    await storage.in_uow(lambda uow: uow.bills.add(submitted()))
    assert await _claim(storage, "worker-a")

    async def answered(uow: UnitOfWork) -> None:
        current = await uow.bills.get("bill_1")
        assert current is not None
        moved = replace(current, status=BillStatus.BANK_FAILED, updated_at=NOW + MINUTE)
        await uow.bills.save(moved, expected_status=BillStatus.BANK_SUBMITTED)

    await storage.in_uow(answered)
    assert await _to_send(storage, MINUTE * 2) == []
    assert not await _claim(storage, "worker-b", at=MINUTE * 2)

    async def resent(uow: UnitOfWork) -> None:  # resend_bank: a new attempt, free to claim at once
        current = await uow.bills.get("bill_1")
        assert current is not None
        again = replace(current, status=BillStatus.BANK_SUBMITTED, attempt=2)
        await uow.bills.save(again, expected_status=BillStatus.BANK_FAILED)

    await storage.in_uow(resent)
    assert await _to_send(storage, MINUTE * 0) == ["bill_1"]
    assert await _claim(storage, "worker-b", attempt=2)

"""What the fakes add to the storage contract for use-case tests: `committed`, and what a unit
of work that is left without a commit leaves behind (nothing)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fakes.storage import FakeFlowLog, FakeStorage

from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ledger import AccountKind, account_to_open
from ports.storage import LedgerWork

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ACCOUNT = account_to_open("app_a", "someone", AccountKind.CUSTOMER, "CNY", account_id="acc_1")


async def test_a_committed_unit_of_work_says_so_and_its_writes_stay() -> None:
    storage = FakeStorage()
    async with storage.uow() as uow:
        await uow.accounts.open(ACCOUNT, at=NOW)
        await uow.commit()
    assert uow.committed
    assert "acc_1" in storage.state.accounts


async def test_a_unit_of_work_left_without_a_commit_is_rolled_back() -> None:
    storage = FakeStorage()
    async with storage.uow() as uow:
        await uow.accounts.open(ACCOUNT, at=NOW)
    assert not uow.committed
    assert storage.state.accounts == {}


async def test_fake_transactions_roll_back_on_an_exception_and_keep_the_last_unit_of_work() -> None:
    storage = FakeStorage()
    transact = storage.transactions()

    async def work(uow: LedgerWork) -> None:
        await uow.accounts.open(ACCOUNT, at=NOW)
        raise LookupError("no")

    with pytest.raises(LookupError):
        await transact(work)
    assert transact.last is not None and not transact.last.committed
    assert storage.state.accounts == {}


def test_the_fake_flow_log_keeps_what_was_recorded() -> None:
    flow = FakeFlowLog()
    record = FlowRecord("pay_1", FlowNode.ACCEPTED, FlowOutcome.OK, NOW)
    flow.record(record)
    assert flow.records == [record]

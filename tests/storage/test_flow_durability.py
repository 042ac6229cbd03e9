"""Flow-log durability on every storage: nodes written in a transaction commit with it and only
with it, and the buffer keeps and retries what it could not write (issue 10 item 10)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from storage_harness import StorageUnderTest

from core.errors import InsufficientFunds
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from gateway.flowbuffer import FlowLogBuffer
from gateway.metrics import Metrics
from ports.storage import LedgerWork

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)

# the migrated template is built outside the event loop (alembic runs its own)
pytestmark = pytest.mark.usefixtures("sqlite_template", "postgres_database")


def settled() -> Payment:
    return Payment(
        "pay_1", "app_a", "r1", "h" * 64, "transfer", "internal", Money(1250, "CNY"), "acc_payer",
        "acc_payee", PaymentStatus.SUCCEEDED, NOW, NOW,
    )  # fmt: skip


def node(name: FlowNode, outcome: FlowOutcome = FlowOutcome.OK, message: str = "") -> FlowRecord:
    return FlowRecord("pay_1", name, outcome, NOW, message or name.value)


async def test_nodes_written_in_a_transaction_are_there_when_it_returns(storage: StorageUnderTest) -> None:
    async def work(uow: LedgerWork) -> None:
        await uow.write_flow([node(FlowNode.ACCEPTED), node(FlowNode.ROUTED), node(FlowNode.FINAL_STATE)])
        await uow.payments.add(settled())  # on PostgreSQL the nodes ride along with this insert

    await storage.transact(work)
    # read straight from the database: no flush in between
    assert [n for _, n, _, _ in await storage.probe.flow()] == ["accepted", "routed", "final_state"]


async def test_nodes_of_a_rolled_back_transaction_are_not_written(storage: StorageUnderTest) -> None:
    async def work(uow: LedgerWork) -> None:
        await uow.write_flow([node(FlowNode.REQUEST_SAVED, message="payment saved")])
        await uow.payments.add(settled())
        raise InsufficientFunds("refused after the save")

    with pytest.raises(InsufficientFunds):
        await storage.transact(work)
    assert await storage.probe.flow() == []
    # the failed step's own node, recorded outside the transaction, is kept
    storage.flow.record(node(FlowNode.VALIDATED, FlowOutcome.FAILED, "insufficient funds"))
    await storage.flow.flush()
    assert await storage.probe.flow() == [("pay_1", "validated", "failed", "insufficient funds")]


class _Failing:
    """A unit of work whose flow write fails `failures` times, then is the real one."""

    def __init__(self, storage: StorageUnderTest, failures: int) -> None:
        self.storage, self.failures = storage, failures

    def __call__(self) -> object:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database gone")
        return self.storage.units()


async def test_a_failed_flush_keeps_retries_and_counts_its_records(storage: StorageUnderTest) -> None:
    if storage.name not in ("sql-sqlite", "sql-postgresql"):
        pytest.skip("the buffer over a unit of work (the writer's path is the next test)")
    flow = FlowLogBuffer(_Failing(storage, failures=2), batch_size=2)  # type: ignore[arg-type]
    metrics = Metrics(flow)
    for name in (FlowNode.ACCEPTED, FlowNode.VALIDATED, FlowNode.ROUTED):
        flow.record(node(name))
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await flow.flush()
    assert flow.pending == 3 and flow.flush_failures == 2 and await storage.probe.flow() == []
    assert metrics.registry.get_sample_value("paygate_flow_records_pending") == 3
    assert metrics.registry.get_sample_value("paygate_flow_flush_failures_total") == 2
    assert await flow.flush() == 3  # in two batches of at most 2, in order
    assert [n for _, n, _, _ in await storage.probe.flow()] == ["accepted", "validated", "routed"]
    assert metrics.registry.get_sample_value("paygate_flow_records_pending") == 0
    assert metrics.registry.get_sample_value("paygate_flow_records_written_total") == 3


async def test_the_writer_path_keeps_records_a_failed_group_commit_lost(storage: StorageUnderTest) -> None:
    if storage.name != "sqlite-writer":
        pytest.skip("the SQLite writer's path")
    flow = storage.flow
    assert isinstance(flow, FlowLogBuffer)
    flow.record(node(FlowNode.ACCEPTED))
    writer = flow._writer
    assert writer is not None
    real_run = writer.run
    calls = 0

    async def failing_once(fn: object, **kw: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("disk I/O error")
        return await real_run(fn, **kw)  # type: ignore[arg-type]

    writer.run = failing_once  # type: ignore[method-assign]
    with pytest.raises(OSError):
        await flow.durable(1)
    assert flow.pending == 1 and flow.flush_failures == 1
    await flow.durable(1)
    assert flow.pending == 0 and [n for _, n, _, _ in await storage.probe.flow()] == ["accepted"]

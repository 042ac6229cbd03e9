"""What the bill use cases share: their means (transactions, repository, flow log, clock), reads, events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from core.bills.model import (
    Bill,
)
from core.errors import NotFound
from core.ids import utcnow
from core.usecases.bills.listener import DueBills
from core.usecases.bills.policy import BillPolicy
from core.usecases.shared.book import WorkflowBook
from ports.bills import BillRepository
from ports.storage import FlowLogSink, UnitOfWorkFactory


class BillContext(WorkflowBook):
    """What every bill use case shares: transactions (each with its bill repository), the flow log, the
    settings, the queues of paid bills (`due`) and of attempts to send (`sends`), the event that
    wakes the query poller (`queries`: an operator's requery_bank), and the clock; and reading a
    bill."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        flow: FlowLogSink,
        policy: BillPolicy,
        due: DueBills,
        *,
        sends: DueBills | None = None,
        queries: asyncio.Event | None = None,
        reads: UnitOfWorkFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(uow, flow, reads=reads, clock=clock)
        self.policy = policy
        self.due = due
        self.sends = sends or DueBills()
        self.queries = queries or asyncio.Event()

    # -- reads -------------------------------------------------------------------------------
    async def find(self, bill_id: str) -> Bill | None:
        async with self.reads() as uow:
            return await uow.bills.get(bill_id)

    async def get(self, bill_id: str, app_id: str | None = None) -> Bill:
        """The bill; another app's bill does not exist for the caller."""
        bill = await self.find(bill_id)
        if bill is None or (app_id is not None and bill.app_id != app_id):
            raise NotFound(f"bill {bill_id} does not exist", code="BILL_NOT_FOUND")
        return bill

    async def find_by_code(self, app_id: str, bill_code: str) -> Bill | None:
        async with self.reads() as uow:
            return await uow.bills.by_code(app_id, bill_code)

    async def by_code(self, app_id: str, bill_code: str) -> Bill:
        bill = await self.find_by_code(app_id, bill_code)
        if bill is None:
            raise NotFound(f"no bill with bill_code {bill_code!r}", code="BILL_NOT_FOUND", field="bill_code")
        return bill


async def locked_bill(repo: BillRepository, bill_id: str) -> Bill:
    """The bill read and locked until the transaction ends (bills are never deleted)."""
    current = await repo.get_for_update(bill_id)
    assert current is not None, "bills are never deleted"
    return current

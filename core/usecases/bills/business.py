"""Business processing of a bill: one transaction, or the business_failed state and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.bills.actions import ErrorAction, check_bill_action
from core.bills.codes import ACTION_PRECONDITION_FAILED
from core.bills.model import Bill, BillFailure, BillStatus, LoanState
from core.bills.plan import BusinessPlan, plan_business
from core.errors import DomainError
from core.events import EventType
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.usecases.bills.context import BillContext, locked_bill
from core.usecases.bills.events import publish
from core.usecases.bills.listener import failed_state_record
from ports.bills import BillRepository, CompanyAccounts
from ports.storage import UnitOfWork

_BUSINESS_DUE = frozenset({BillStatus.BANK_SUCCEEDED, BillStatus.TRANSFER_PENDING})


@dataclass(frozen=True, slots=True)
class _Committed:
    """What a committed business transaction wrote, for the flow log."""

    bill: Bill
    pay_mode: str  # the mode the bill was processed in
    plan: BusinessPlan
    txn_id: str
    company: CompanyAccounts


class BillBusiness:
    """The business transaction (业务处理) of a bill the bank paid or finance pays by transfer."""

    def __init__(self, ctx: BillContext) -> None:
        self.ctx = ctx

    async def run_business(
        self, bill_id: str, *, action: ErrorAction | None = None, actor: str | None = None
    ) -> Bill:
        """The business transaction (业务处理) of a bill the bank paid or finance pays by transfer.

        Without `action` it runs only when due (bank_succeeded, transfer_pending) and is a no-op
        otherwise, so the worker and the listener's wake-up may race harmlessly; with RERUN_BUSINESS
        it also reruns a business_failed bill, and refuses a bill that no longer qualifies.

        Whether the bill is due is decided on the locked row only: a worker woken by the listener
        may get here before the payment's transaction commits, and then waits for it (the row
        lock, or SQLite's writer turn) instead of reading the state from before the commit.
        """
        bill = await self.ctx.get(bill_id)  # app and currency never change
        due = _BUSINESS_DUE | (
            {BillStatus.BUSINESS_FAILED} if action is ErrorAction.RERUN_BUSINESS else set()
        )
        now = self.ctx.clock()
        company = await self._company_accounts(bill, now)
        try:
            committed = await self._commit(bill_id, due, action, company, now)
        except DomainError as exc:
            if exc.code == ACTION_PRECONDITION_FAILED:
                raise
            return await self._business_failed(bill_id, due, exc, actor)
        if isinstance(committed, Bill):
            return committed  # not due: left as it is
        self.ctx.trail.emit(self._committed_records(committed, actor))
        return committed.bill

    async def _company_accounts(self, bill: Bill, now: datetime) -> CompanyAccounts:
        """Opened on first use, committed apart so that a rolled-back business keeps them."""
        async with self.ctx.uow() as uow:
            company = await uow.bills.company_accounts(bill.app_id, bill.currency, at=now)
            await uow.commit()
        return company

    async def _commit(
        self,
        bill_id: str,
        due: frozenset[BillStatus],
        action: ErrorAction | None,
        company: CompanyAccounts,
        now: datetime,
    ) -> Bill | _Committed:
        """The transaction: the locked bill, if due, completed with everything its plan writes;
        else the bill as it is (refused when an operator's action no longer qualifies)."""
        async with self.ctx.uow() as uow:
            repo = uow.bills
            current = await locked_bill(repo, bill_id)
            if current.status not in due:
                if action is not None:
                    check_bill_action(action, current)
                return current
            loans = await repo.loans(current.app_id, [w.loan_bill_id for w in current.write_offs], lock=True)
            plan = plan_business(current.command(), loans, company.paying, company.write_off)
            txn_id = await _write_plan(uow, repo, current.id, plan, now)
            done = current.moved(
                BillStatus.COMPLETED,
                now,
                failure=None,
                completed_at=now,
                loan_open_amount=plan.opened_loan,
                loan_state=LoanState.OPEN if plan.opened_loan is not None else None,
            )
            await repo.save(done, expected_status=current.status)
            await publish(uow, done, EventType.BILL_COMPLETED, now)
            await uow.commit()
        return _Committed(done, current.pay_mode, plan, txn_id, company)

    def _committed_records(self, done: _Committed, actor: str | None) -> list[FlowRecord]:
        bill_id, plan = done.bill.id, done.plan
        records = [
            self.ctx.trail.node(
                bill_id,
                FlowNode.BUSINESS_PROCESSING,
                message=f"business processing committed ({done.pay_mode} mode)",
                actor=actor,
                paid_amount=str(plan.paid_amount),
                write_off_total=str(plan.write_off_total),
                company_account=done.company.paying,
                write_off_account=done.company.write_off,
                transfer_log=plan.transfer_log is not None,
            ),
            self.ctx.trail.node(
                bill_id,
                FlowNode.LEDGER_POSTED,
                message=f"{len(plan.postings)} ledger flows posted",
                txn_id=done.txn_id,
                flows=[
                    {"account": p.account_id, "amount": str(p.amount), "kind": p.kind.value}
                    for p in plan.postings
                ],
            ),
        ]
        if plan.write_off_logs:
            records.append(
                self.ctx.trail.node(
                    bill_id,
                    FlowNode.WRITE_OFF,
                    message=f"{len(plan.write_off_logs)} loans written off",
                    lines=_written_off(plan),
                )
            )
        records.append(
            self.ctx.trail.node(bill_id, FlowNode.FINAL_STATE, message="completed", txn_id=done.txn_id)
        )
        return records

    async def _business_failed(
        self, bill_id: str, due: frozenset[BillStatus], exc: DomainError, actor: str | None
    ) -> Bill:
        """The business transaction rolled back: record why, in a small transaction of its own."""
        now = self.ctx.clock()
        async with self.ctx.uow() as uow:
            repo = uow.bills
            current = await locked_bill(repo, bill_id)
            if current.status not in due:
                return current
            failed = current.moved(BillStatus.BUSINESS_FAILED, now, failure=BillFailure.of(exc))
            await repo.save(failed, expected_status=current.status)
            await publish(uow, failed, EventType.BILL_FAILED, now)
            await uow.commit()
        self.ctx.trail.record(
            bill_id,
            FlowNode.BUSINESS_PROCESSING,
            FlowOutcome.FAILED,
            f"business processing rolled back: {exc.message}",
            actor=actor,
            code=exc.code,
            field=exc.field,
        )
        self.ctx.flow.record(failed_state_record(failed, self.ctx.clock()))
        return failed


async def _write_plan(
    uow: UnitOfWork, repo: BillRepository, bill_id: str, plan: BusinessPlan, now: datetime
) -> str:
    """The ledger flows (one ledger transaction, subject = the bill), the transfer log, the
    write-off log lines and the conditional loan updates; the ledger transaction's id."""
    txn_id = await uow.ledger.post(bill_id, plan.postings, at=now)
    if plan.transfer_log is not None:
        await repo.add_transfer_log(bill_id, txn_id, plan.transfer_log, at=now)
    await repo.add_write_off_logs(bill_id, txn_id, plan.write_off_logs, at=now)
    for update in plan.loan_updates:
        await repo.update_loan(update, at=now)
    return txn_id


def _written_off(plan: BusinessPlan) -> list[dict[str, Any]]:
    """Each linked loan's write-off, for the flow log: the line and the open amount before and after."""
    return [
        {
            "loan_bill_id": u.loan_bill_id,
            "amount": str(u.expected_open_amount - u.open_amount),
            "open_before": str(u.expected_open_amount),
            "open_after": str(u.open_amount),
            "state": u.state.value,
        }
        for u in plan.loan_updates
    ]

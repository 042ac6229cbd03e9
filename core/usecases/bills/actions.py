"""Error handling (差错处理): revalidate, resend_bank, requery_bank, rerun_business, switch_to_transfer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from core.bills.actions import ErrorAction, check_bill_action
from core.bills.codes import ACTION_PRECONDITION_FAILED, STALE_FORM
from core.bills.model import Bill, BillStatus, PayMode
from core.errors import Conflict, DomainError
from core.flowlog import FlowNode, FlowOutcome
from core.payments.model import PaymentStatus
from core.usecases.bills.bank import BillBank
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.checking import BillChecker
from core.usecases.bills.context import BillContext, locked_bill
from core.usecases.bills.intake import BillIntake
from ports.bills import BillRepository


class BillActions:
    """Error handling (差错处理): an operator's action, run once its seed precondition holds."""

    def __init__(
        self,
        ctx: BillContext,
        checker: BillChecker,
        intake: BillIntake,
        bank: BillBank,
        business: BillBusiness,
    ) -> None:
        self.ctx = ctx
        self.checker = checker
        self.intake = intake
        self.bank = bank
        self.business = business

    async def act(
        self,
        bill_id: str,
        action: ErrorAction,
        operator: str,
        reason: str | None = None,
        *,
        seen: str | None = None,
    ) -> Bill:
        """Run an operator's action once its seed precondition holds (ACTION_PRECONDITION_FAILED
        otherwise); every attempt is in the flow log with the operator and the reason.

        `seen`: the bill's `updated_at` (ISO 8601) on the page the operator acted from. A bill
        changed since is refused (STALE_FORM): another operator acted first, and this form must
        not run the action again on what may look like the same state (a resend that failed
        again). Checked at once, and again on the locked row by the actions that move the bill
        (revalidate, resend_bank, switch_to_transfer); requery_bank only asks the bank again and
        rerun_business runs only on a bill still due, so for them the first check is enough."""
        bill = await self.ctx.get(bill_id)
        _still_as_seen(bill, seen)
        note: dict[str, Any] = {"action": action.value, "reason": reason, "status_before": bill.status.value}
        try:
            check_bill_action(action, bill)
            if action is ErrorAction.RESEND_BANK:
                started = await self._resend(bill, operator, note, seen)
                self.ctx.sends.add(started.id)  # the send worker calls the bank, not this request
                return started
            if action is ErrorAction.SWITCH_TO_TRANSFER:
                await self._switch_to_transfer(bill, operator, note, seen)
                return await self.business.run_business(bill_id, actor=operator)
            self._operator(bill_id, operator, note, action.value)
            if action is ErrorAction.REVALIDATE:
                return await self._revalidate(bill, seen)
            if action is ErrorAction.REQUERY_BANK:
                return await self.bank.requery(bill)
            return await self.business.run_business(bill_id, action=action, actor=operator)
        except DomainError as exc:
            if exc.code == ACTION_PRECONDITION_FAILED:
                message = f"{action.value} refused: {exc.message}"
                self._operator(bill_id, operator, note, message, FlowOutcome.FAILED)
            raise

    def _operator(
        self,
        bill_id: str,
        operator: str,
        note: dict[str, Any],
        message: str,
        outcome: FlowOutcome = FlowOutcome.OK,
    ) -> None:
        self.ctx.trail.record(bill_id, FlowNode.OPERATOR_ACTION, outcome, message, actor=operator, **note)

    async def _revalidate(self, bill: Bill, seen: str | None) -> Bill:
        checked = await self.checker.check(bill, self.ctx.clock())
        async with self.ctx.uow() as uow:
            repo = uow.bills
            current = await locked_bill(repo, bill.id)
            _still_as_seen(current, seen)
            if current.status is not bill.status:  # another operator got there first
                check_bill_action(ErrorAction.REVALIDATE, current)
                raise _changed(ErrorAction.REVALIDATE, current)
            checked = await self.checker.hold(repo, current, checked, self.ctx.clock())
            await repo.save(checked.bill, expected_status=current.status)
            await uow.commit()
        self.ctx.trail.emit(checked.trail)
        return await self.intake.proceed(checked.bill)

    async def _resend(self, bill: Bill, operator: str, note: dict[str, Any], seen: str | None) -> Bill:
        """A new attempt after a definite bank rejection: a new payment, elecChequeNo, packet id."""
        started = await self._leave_bank_failed(
            bill.id,
            ErrorAction.RESEND_BANK,
            seen,
            lambda current, now: current.moved(
                BillStatus.BANK_SUBMITTED,
                now,
                attempt=current.attempt + 1,
                payment_id=None,
                failure=None,
                bank_failure_evidence=None,
            ),
        )
        self._operator(bill.id, operator, note, f"resend_bank: attempt {started.attempt}")
        return started

    async def _switch_to_transfer(
        self, bill: Bill, operator: str, note: dict[str, Any], seen: str | None
    ) -> Bill:
        switched = await self._leave_bank_failed(
            bill.id,
            ErrorAction.SWITCH_TO_TRANSFER,
            seen,
            lambda current, now: current.moved(
                BillStatus.TRANSFER_PENDING,
                now,
                pay_mode=PayMode.TRANSFER.value,
                failure=None,
                bank_failure_evidence=None,
            ),
        )
        self._operator(bill.id, operator, note, "switch_to_transfer: pay mode bank -> transfer")
        return switched

    async def _leave_bank_failed(
        self,
        bill_id: str,
        action: ErrorAction,
        seen: str | None,
        move: Callable[[Bill, datetime], Bill],
    ) -> Bill:
        """Move a bill that is still bank_failed (and as the operator saw it), in one transaction
        on the locked row."""
        now = self.ctx.clock()
        async with self.ctx.uow() as uow:
            repo = uow.bills
            current = await _bank_failed_for_update(repo, bill_id, action, seen)
            moved = move(current, now)
            await repo.save(moved, expected_status=current.status)
            await uow.commit()
        return moved


async def _bank_failed_for_update(
    repo: BillRepository, bill_id: str, action: ErrorAction, seen: str | None
) -> Bill:
    """The bill locked, as the operator saw it, still bank_failed in bank mode, and its attempt's
    payment failed too (seed §7: the request record and the parsed bank answer must both say
    failed)."""
    current = await locked_bill(repo, bill_id)
    _still_as_seen(current, seen)
    check_bill_action(action, current)
    attempt = await repo.attempt_payment(current)
    if attempt is not None and attempt[0].status is not PaymentStatus.FAILED:
        raise _changed(action, current, f"its bank payment {attempt[0].id} is {attempt[0].status.value}")
    return current


def _still_as_seen(bill: Bill, seen: str | None) -> None:
    """Refuse (STALE_FORM) a bill changed since the operator's page showed it at `seen`."""
    if seen is not None and seen != bill.updated_at.isoformat():
        raise Conflict(
            f"bill {bill.id} changed since this form was shown (it is {bill.status.value} now)",
            code=STALE_FORM,
        )


def _changed(action: ErrorAction, bill: Bill, why: str | None = None) -> DomainError:
    return Conflict(
        f"{action.value} refused: {why or 'the bill changed meanwhile'}; the bill is {bill.status.value}",
        field="status",
        code=ACTION_PRECONDITION_FAILED,
    )

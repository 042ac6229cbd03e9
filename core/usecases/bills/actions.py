"""Error handling (差错处理): revalidate, resend_bank, requery_bank, rerun_business, switch_to_transfer."""

from __future__ import annotations

from typing import Any

from core.bills.actions import ErrorAction, allowed_actions, check_action
from core.bills.codes import ACTION_PRECONDITION_FAILED
from core.bills.model import (
    Bill,
    BillStatus,
    PayMode,
)
from core.errors import Conflict, DomainError
from core.flowlog import FlowNode, FlowOutcome
from core.payment import PaymentStatus
from core.usecases.bills.bank import BillBank
from core.usecases.bills.business import BillBusiness
from core.usecases.bills.context import BillContext
from core.usecases.bills.intake import BillIntake


class BillActions:
    """Error handling (差错处理): an operator's action, run once its seed precondition holds."""

    def __init__(self, ctx: BillContext, intake: BillIntake, bank: BillBank, business: BillBusiness) -> None:
        self.ctx = ctx
        self.intake = intake
        self.bank = bank
        self.business = business

    # -- error handling (差错处理) -------------------------------------------------------------
    async def act(self, bill_id: str, action: ErrorAction, operator: str, reason: str | None = None) -> Bill:
        """Run an operator's action once its seed precondition holds (ACTION_PRECONDITION_FAILED
        otherwise); every attempt is in the flow log with the operator and the reason."""
        bill = await self.ctx.get(bill_id)
        note: dict[str, Any] = {"action": action.value, "reason": reason, "status_before": bill.status.value}
        try:
            check_action(action, bill.status, bill.mode or PayMode.TRANSFER)
            if action is ErrorAction.RESEND_BANK:
                return await self.bank.send_attempt(await self._resend(bill, operator, note))
            if action is ErrorAction.SWITCH_TO_TRANSFER:
                await self._switch_to_transfer(bill, operator, note)
                return await self.business.run_business(bill_id, actor=operator)
            self._operator(bill_id, operator, note, action.value)
            if action is ErrorAction.REVALIDATE:
                return await self._revalidate(bill)
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
        self.ctx.emit(
            [self.ctx.record(bill_id, FlowNode.OPERATOR_ACTION, outcome, message, actor=operator, **note)]
        )

    async def _revalidate(self, bill: Bill) -> Bill:
        now = self.ctx.clock()
        checked, _, trail = await self.intake.checked(bill, now)
        async with self.ctx.uow() as uow:
            repo = self.ctx.bills_of(uow)
            current = await repo.get_for_update(bill.id)
            assert current is not None, "bills are never deleted"
            if current.status is not bill.status:  # another operator got there first
                check_action(ErrorAction.REVALIDATE, current.status, current.mode or PayMode.TRANSFER)
                raise _changed(ErrorAction.REVALIDATE, current)
            await repo.save(checked, expected_status=current.status)
            await uow.commit()
        self.ctx.emit(trail)
        return await self.intake.proceed(checked)

    async def _resend(self, bill: Bill, operator: str, note: dict[str, Any]) -> Bill:
        """A new attempt after a definite bank rejection: a new payment, elecChequeNo, packet id."""
        now = self.ctx.clock()
        async with self.ctx.uow() as uow:
            repo = self.ctx.bills_of(uow)
            current = await self._bank_failed_for_update(repo, bill.id, ErrorAction.RESEND_BANK)
            started = current.moved(
                BillStatus.BANK_SUBMITTED, now, attempt=current.attempt + 1, payment_id=None, failure=None
            )
            await repo.save(started, expected_status=current.status)
            await uow.commit()
        self._operator(bill.id, operator, note, f"resend_bank: attempt {started.attempt}")
        return started

    async def _switch_to_transfer(self, bill: Bill, operator: str, note: dict[str, Any]) -> Bill:
        now = self.ctx.clock()
        async with self.ctx.uow() as uow:
            repo = self.ctx.bills_of(uow)
            current = await self._bank_failed_for_update(repo, bill.id, ErrorAction.SWITCH_TO_TRANSFER)
            switched = current.moved(
                BillStatus.TRANSFER_PENDING, now, pay_mode=PayMode.TRANSFER.value, failure=None
            )
            await repo.save(switched, expected_status=current.status)
            await uow.commit()
        self._operator(bill.id, operator, note, "switch_to_transfer: pay mode bank -> transfer")
        return switched

    async def _bank_failed_for_update(self, repo: Any, bill_id: str, action: ErrorAction) -> Bill:
        """The bill locked, still bank_failed in bank mode, and its attempt's payment failed too
        (seed §7: the request record and the parsed bank answer must both say failed)."""
        current: Bill | None = await repo.get_for_update(bill_id)
        assert current is not None, "bills are never deleted"
        check_action(action, current.status, current.mode or PayMode.TRANSFER)
        attempt = await repo.attempt_payment(current)
        if attempt is not None and attempt[0].status is not PaymentStatus.FAILED:
            raise _changed(action, current, f"its bank payment {attempt[0].id} is {attempt[0].status.value}")
        return current

    def allowed_actions(self, bill: Bill) -> list[str]:
        mode = bill.mode or PayMode.TRANSFER
        return sorted(action.value for action in allowed_actions(bill.status, mode))


def _changed(action: ErrorAction, bill: Bill, why: str | None = None) -> DomainError:
    return Conflict(
        f"{action.value} refused: {why or 'the bill changed meanwhile'}; the bill is {bill.status.value}",
        field="status",
        code=ACTION_PRECONDITION_FAILED,
    )

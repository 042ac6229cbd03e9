"""Loan and reimbursement bills (seed 002): intake, bank attempts, business processing, 差错处理.

A bill is checked (acceptance checks, then risk controls, `core.bills`) and stored whatever the
outcome. An accepted bill is paid by the bank (bank mode: each attempt is a payment routed by
pay method, so to the SPDB channel, whose listener moves the bill inside the payment's own
transaction) or goes straight to business processing (transfer mode: finance pays outside the
platform). Business processing is one transaction: ledger flows, transfer log, write-off logs,
conditional loan updates, the final state and the `bill.completed` event. The flow log is
written outside it, through the buffered sink.

Events to the caller app (outbox): `bill.completed` when a bill completes; `bill.failed` when it
stops at bank_failed or business_failed and waits for an operator — it may still complete
later. A bill refused by a check is answered at once, so it sends no event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.bill_records import Bill, BillFailure, mask_card_no
from core.bills import (
    ACTION_PRECONDITION_FAILED,
    CHECK_OF_CODE,
    LOAN_CHECKS,
    LOAN_RISK_CHECKS,
    REIMBURSEMENT_CHECKS,
    REIMBURSEMENT_RISK_CHECKS,
    BillKind,
    BillLimits,
    BillStatus,
    Check,
    ErrorAction,
    LoanCommand,
    LoanState,
    PayMode,
    ValidationOutcome,
    WriteOffLine,
    allowed_actions,
    check_action,
    payout_amount,
    plan_business,
    risk_check_loan,
    risk_check_reimbursement,
    validate_loan,
    validate_reimbursement,
)
from core.errors import BusinessRuleViolation, Conflict, DomainError, IdempotencyConflict, NotFound
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import new_id, utcnow
from core.money import Money
from core.payments.model import Payment, PaymentStatus, request_fingerprint
from core.usecases.payments.commands import PaymentCommand
from core.usecases.payments.service import PaymentService
from ports.bills import Applicant, BillRepositoryFactory
from ports.storage import DuplicateRequest, FlowLogSink, UnitOfWorkFactory

log = logging.getLogger("paygate.bills")

BILL_STATUS_OF_PAYMENT = {
    PaymentStatus.PROCESSING: BillStatus.BANK_PROCESSING,
    PaymentStatus.UNKNOWN: BillStatus.BANK_UNKNOWN,
    PaymentStatus.SUCCEEDED: BillStatus.BANK_SUCCEEDED,
    PaymentStatus.FAILED: BillStatus.BANK_FAILED,
}
_AWAITING_BANK = frozenset({BillStatus.BANK_SUBMITTED, BillStatus.BANK_PROCESSING, BillStatus.BANK_UNKNOWN})
_BUSINESS_DUE = frozenset({BillStatus.BANK_SUCCEEDED, BillStatus.TRANSFER_PENDING})


@dataclass(frozen=True, slots=True)
class BillPolicy:
    """Bill settings the use cases need: limits, and how a bank attempt is paid and routed."""

    limits: BillLimits
    payer_card_no: str | None = None  # the company's paying card, when a bill names none
    pay_method: str = "bank"  # the pay method bank attempts are routed by
    business_type: str = "bill"
    resubmit_after: timedelta = timedelta(seconds=60)  # a bank_submitted bill left this long is recovered


@dataclass(frozen=True, slots=True)
class BillRequest:
    """A loan or reimbursement bill as a caller app sent it (well-formed, not yet checked)."""

    app_id: str
    kind: BillKind
    request_hash: str
    bill_code: str
    pay_mode: str
    applicant_account_id: str
    amount: Money  # the loan amount or the reimbursement amount R
    write_off_total: Money
    write_offs: tuple[WriteOffLine, ...] = ()
    exchange_rate: Decimal | None = None
    payer_card_no: str | None = None
    payee_card_no: str | None = None
    payee_name: str | None = None
    memo: str | None = None


class BillRefused(DomainError):
    """A request about a bill refused with the code of `error`; `bill_id` names the bill
    (stored refused by a check, or the bill already holding the bill code)."""

    def __init__(self, bill_id: str, error: DomainError) -> None:
        super().__init__(error.message, field=error.field, code=error.code)
        self.http_status = error.http_status
        self.bill_id = bill_id


class DueBills:
    """Bills the bank has just paid: the listener adds them inside the payment's transaction, the
    bill worker takes them right after (its business transaction waits for that commit)."""

    def __init__(self) -> None:
        self._ids: dict[str, None] = {}
        self.event = asyncio.Event()

    def add(self, bill_id: str) -> None:
        self._ids[bill_id] = None
        self.event.set()

    def take(self) -> list[str]:
        ids, self._ids = list(self._ids), {}
        self.event.clear()
        return ids


def bill_view(bill: Bill) -> dict[str, Any]:
    """A bill as callers and operators see it: card numbers masked but for their last four."""
    view: dict[str, Any] = {
        "id": bill.id,
        "bill_code": bill.bill_code,
        "kind": bill.kind.value,
        "status": bill.status.value,
        "pay_mode": bill.pay_mode,
        "currency": bill.currency,
        "applicant_account": bill.applicant_account_id,
    }
    if bill.kind is BillKind.LOAN:
        view["amount"] = str(bill.amount)
    else:
        view.update(
            reimbursement_amount=str(bill.amount),
            write_off_total=str(bill.write_off_total),
            write_offs=[{"loan_bill_id": w.loan_bill_id, "amount": str(w.amount)} for w in bill.write_offs],
            real_amount=str(bill.amount - bill.write_off_total),
        )
    failure = bill.failure
    view.update(
        exchange_rate=str(bill.exchange_rate) if bill.exchange_rate is not None else None,
        payer_card_no=mask_card_no(bill.payer_card_no),
        payee_card_no=mask_card_no(bill.payee_card_no),
        payee_name=bill.payee_name,
        payee_bank_name=bill.payee_bank_name,
        memo=bill.memo,
        attempt=bill.attempt,
        payment_id=bill.payment_id,
        failure=None
        if failure is None
        else {"code": failure.code, "message": failure.message, "field": failure.field},
        loan=None
        if bill.loan_open_amount is None or bill.loan_state is None
        else {"open_amount": str(bill.loan_open_amount), "state": bill.loan_state.value},
        created_at=bill.created_at.isoformat(),
        updated_at=bill.updated_at.isoformat(),
        completed_at=bill.completed_at.isoformat() if bill.completed_at else None,
    )
    return view


def bill_params(bill: Bill) -> dict[str, Any]:
    """The request parameters a check node of the flow log records (cards masked)."""
    params: dict[str, Any] = {
        "bill_code": bill.bill_code,
        "kind": bill.kind.value,
        "pay_mode": bill.pay_mode,
        "applicant_account": bill.applicant_account_id,
        "currency": bill.currency,
        "amount": str(bill.amount),
        "payer_card_no": mask_card_no(bill.payer_card_no),
        "payee_card_no": mask_card_no(bill.payee_card_no),
        "exchange_rate": str(bill.exchange_rate) if bill.exchange_rate is not None else None,
    }
    if bill.kind is BillKind.REIMBURSEMENT:
        params["write_off_total"] = str(bill.write_off_total)
        params["write_offs"] = [
            {"loan_bill_id": w.loan_bill_id, "amount": str(w.amount)} for w in bill.write_offs
        ]
    return params


async def publish(uow: Any, bill: Bill, event: str, at: datetime) -> None:
    """`bill.completed` / `bill.failed` to the caller app, in the transaction that moved the bill."""
    await uow.outbox.enqueue(bill.app_id, f"bill.{event}", bill.id, {"bill": bill_view(bill)}, at=at)


class BillPaymentListener:
    """Moves a bill with its bank payment inside the payment's transaction: processing ->
    bank_processing, unknown -> bank_unknown, succeeded -> bank_succeeded, failed -> bank_failed.
    Only the current attempt moves the bill; a bill is never paid without the payment's success."""

    def __init__(self, bills_of: BillRepositoryFactory, flow: FlowLogSink, due: DueBills) -> None:
        self.bills_of = bills_of
        self.flow = flow
        self.due = due

    async def __call__(self, uow: Any, payment: Payment) -> None:
        bill_id = payment.details.get("bill_id")
        target = BILL_STATUS_OF_PAYMENT.get(payment.status)
        if not isinstance(bill_id, str) or target is None:
            return  # not a bill's payment, or not answered yet
        repo = self.bills_of(uow)
        current = await repo.get_for_update(bill_id)
        if (
            current is None
            or current.attempt != payment.details.get("bill_attempt")
            or current.status not in _AWAITING_BANK
        ):
            log.error(
                "bank payment does not match its bill",
                extra={"bill_id": bill_id, "payment_id": payment.id, "payment_status": payment.status.value},
            )
            return
        failed = target is BillStatus.BANK_FAILED
        failure = (
            BillFailure(
                payment.failure_code or "BANK_REFUSED",
                payment.failure_message or "the bank refused the payment",
            )
            if failed
            else None
        )
        moved = current.moved(target, payment.updated_at, payment_id=payment.id, failure=failure)
        await repo.save(moved, expected_status=current.status)
        if failed:
            await publish(uow, moved, "failed", payment.updated_at)
        # the first answer of an attempt is the 8801 answer; later ones come from 8804 queries
        first = current.status is BillStatus.BANK_SUBMITTED
        outcome = FlowOutcome.PENDING
        if failed or target is BillStatus.BANK_SUCCEEDED:
            outcome = FlowOutcome.FAILED if failed else FlowOutcome.OK
        self.flow.record(
            FlowRecord(
                bill_id,
                FlowNode.CHANNEL_ANSWER if first else FlowNode.QUERY_ANSWER,
                outcome,
                payment.updated_at,
                f"{'8801' if first else '8804'} answer: payment {payment.status.value}, bill {target.value}",
                {
                    "attempt": current.attempt,
                    "payment_id": payment.id,
                    "channel_ref": payment.channel_ref,
                    "failure_code": payment.failure_code,
                },
            )
        )
        if target is BillStatus.BANK_SUCCEEDED:
            self.due.add(bill_id)


class BillService:
    """Everything that happens to a bill, each step restart-safe: the state is in the bill row."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        bills_of: BillRepositoryFactory,
        payments: PaymentService,
        flow: FlowLogSink,
        policy: BillPolicy,
        due: DueBills,
        *,
        reads: UnitOfWorkFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.reads = reads or uow
        self.bills_of = bills_of
        self.payments = payments
        self.flow = flow
        self.policy = policy
        self.due = due
        self.clock = clock

    def _record(
        self,
        bill_id: str,
        node: FlowNode,
        outcome: FlowOutcome = FlowOutcome.OK,
        message: str = "",
        actor: str | None = None,
        **detail: Any,
    ) -> FlowRecord:
        return FlowRecord(bill_id, node, outcome, self.clock(), message, detail, actor)

    def _emit(self, records: Sequence[FlowRecord]) -> None:
        for record in records:
            self.flow.record(record)

    # -- reads -------------------------------------------------------------------------------
    async def find(self, bill_id: str) -> Bill | None:
        async with self.reads() as uow:
            return await self.bills_of(uow).get(bill_id)

    async def get(self, bill_id: str, app_id: str | None = None) -> Bill:
        """The bill; another app's bill does not exist for the caller."""
        bill = await self.find(bill_id)
        if bill is None or (app_id is not None and bill.app_id != app_id):
            raise NotFound(f"bill {bill_id} does not exist", code="BILL_NOT_FOUND")
        return bill

    async def by_code(self, app_id: str, bill_code: str) -> Bill:
        async with self.reads() as uow:
            bill = await self.bills_of(uow).by_code(app_id, bill_code)
        if bill is None:
            raise NotFound(f"no bill with bill_code {bill_code!r}", code="BILL_NOT_FOUND", field="bill_code")
        return bill

    # -- intake ------------------------------------------------------------------------------
    async def submit(self, request: BillRequest) -> tuple[Bill, bool]:
        """(bill, created). A repeat of the same request returns the stored bill; a bill refused
        by a check is stored and raised as BillRefused."""
        async with self.reads() as uow:
            existing = await self.bills_of(uow).by_code(request.app_id, request.bill_code)
        if existing is not None:
            return self._repeat(existing, request), False
        now = self.clock()
        received = Bill(
            id=new_id("bill"),
            app_id=request.app_id,
            kind=request.kind,
            bill_code=request.bill_code,
            request_hash=request.request_hash,
            status=BillStatus.RECEIVED,
            pay_mode=request.pay_mode,
            applicant_account_id=request.applicant_account_id,
            amount=request.amount,
            write_off_total=request.write_off_total,
            write_offs=request.write_offs,
            created_at=now,
            updated_at=now,
            exchange_rate=request.exchange_rate,
            payer_card_no=request.payer_card_no,
            payee_card_no=request.payee_card_no,
            payee_name=request.payee_name,
            memo=request.memo,
        )
        trail = [self._record(received.id, FlowNode.ACCEPTED, message=f"{request.kind.value} bill received")]
        checked, error, check_trail = await self._checked(received, now)
        try:
            async with self.uow() as uow:
                await self.bills_of(uow).add(checked)
                await uow.commit()
        except DuplicateRequest:
            async with self.reads() as uow:
                first = await self.bills_of(uow).by_code(request.app_id, request.bill_code)
            assert first is not None, "a duplicate insert implies a stored bill"
            return self._repeat(first, request), False
        self._emit(
            [
                *trail,
                *check_trail,
                self._record(
                    checked.id, FlowNode.REQUEST_SAVED, message=f"bill saved as {checked.status.value}"
                ),
            ]
        )
        if error is not None:
            raise BillRefused(checked.id, error)
        return await self._proceed(checked), True

    @staticmethod
    def _repeat(existing: Bill, request: BillRequest) -> Bill:
        if existing.request_hash == request.request_hash:
            return existing
        if existing.in_process:
            error: DomainError = BillRefused(
                existing.id,
                IdempotencyConflict(
                    f"bill {request.bill_code} is already being processed ({existing.status.value}); follow "
                    "that bill instead of submitting another body with its code",
                    field="bill_code",
                    code="BILL_IN_PROCESS",
                ),
            )
        else:
            error = BillRefused(
                existing.id,
                IdempotencyConflict(
                    f"bill_code {request.bill_code!r} was already used with a different body "
                    f"(that bill is {existing.status.value})",
                    field="bill_code",
                ),
            )
        raise error

    async def _checked(self, bill: Bill, now: datetime) -> tuple[Bill, DomainError | None, list[FlowRecord]]:
        """Run the acceptance checks and the risk controls on current data: the bill moved to
        validation_failed / risk_rejected, or accepted and on to its first bank attempt or to
        transfer_pending; the error when refused; the flow-log records of both nodes."""
        async with self.reads() as uow:
            repo = self.bills_of(uow)
            applicant = await repo.applicant(bill.app_id, bill.applicant_account_id)
            loans = await repo.loans(bill.app_id, [line.loan_bill_id for line in bill.write_offs])
            open_loans = (
                await repo.open_loans(bill.app_id, bill.applicant_account_id, excluding=bill.id)
                if bill.kind is BillKind.LOAN
                else 0
            )
        bill = self._resolved(bill, applicant)
        cmd = bill.command()
        limits = self.policy.limits
        params = bill_params(bill)
        view = applicant.view if applicant else None
        # the bill's own code is held by this bill alone (unique per app): never "in process" here
        try:
            if isinstance(cmd, LoanCommand):
                validated = validate_loan(cmd, view, False, limits)
            else:
                validated = validate_reimbursement(cmd, view, loans, False, limits)
            _check_applicant_currency(bill, applicant)
        except DomainError as exc:
            checks = LOAN_CHECKS if bill.kind is BillKind.LOAN else REIMBURSEMENT_CHECKS
            return self._refused(
                bill, now, BillStatus.VALIDATION_FAILED, FlowNode.VALIDATED, exc, checks, params
            )
        trail = [self._passed(bill.id, validated, params)]
        try:
            if isinstance(cmd, LoanCommand):
                risk = risk_check_loan(cmd, open_loans, limits)
            else:
                risk = risk_check_reimbursement(cmd, limits)
        except DomainError as exc:
            checks = LOAN_RISK_CHECKS if bill.kind is BillKind.LOAN else REIMBURSEMENT_RISK_CHECKS
            refused, error, records = self._refused(
                bill, now, BillStatus.RISK_REJECTED, FlowNode.RISK_CHECKED, exc, checks, params, open_loans
            )
            return refused, error, trail + records
        trail.append(
            self._passed(bill.id, risk, params, open_loans=open_loans if bill.kind is BillKind.LOAN else None)
        )
        accepted = bill.moved(BillStatus.ACCEPTED, now, failure=None)
        if accepted.mode is PayMode.BANK:
            started = accepted.moved(
                BillStatus.BANK_SUBMITTED, now, attempt=accepted.attempt + 1, payment_id=None
            )
        else:
            started = accepted.moved(BillStatus.TRANSFER_PENDING, now)
        return started, None, trail

    def _resolved(self, bill: Bill, applicant: Applicant | None) -> Bill:
        """In bank mode: the company's card and the applicant's registered card, when not named."""
        if bill.mode is not PayMode.BANK:
            return bill
        view = applicant.view if applicant else None
        return replace(
            bill,
            payer_card_no=bill.payer_card_no or self.policy.payer_card_no,
            payee_card_no=bill.payee_card_no or (view.card_no if view else None),
            payee_name=bill.payee_name or ((view.card_name or view.name) if view else None),
            payee_bank_name=bill.payee_bank_name or (applicant.bank_name if applicant else None),
        )

    def _passed(
        self, bill_id: str, outcome: ValidationOutcome, params: dict[str, Any], **extra: Any
    ) -> FlowRecord:
        what = "acceptance checks" if outcome.node is FlowNode.VALIDATED else "risk controls"
        detail = {**outcome.detail(), "params": params, **{k: v for k, v in extra.items() if v is not None}}
        return self._record(bill_id, outcome.node, FlowOutcome.OK, f"{what} passed", **detail)

    def _refused(
        self,
        bill: Bill,
        now: datetime,
        status: BillStatus,
        node: FlowNode,
        error: DomainError,
        checks: tuple[Check, ...],
        params: dict[str, Any],
        open_loans: int | None = None,
    ) -> tuple[Bill, DomainError, list[FlowRecord]]:
        check = CHECK_OF_CODE.get(error.code)
        passed = checks[: checks.index(check)] if check is not None and check in checks else ()
        refused = bill.moved(status, now, failure=BillFailure.of(error))
        detail: dict[str, Any] = {
            "failed_check": check.value if check else None,
            "code": error.code,
            "field": error.field,
            "checks_passed": [c.value for c in passed],
            "params": params,
        }
        if open_loans is not None and bill.kind is BillKind.LOAN:
            detail["open_loans"] = open_loans
        what = "acceptance check" if node is FlowNode.VALIDATED else "risk control"
        record = self._record(bill.id, node, FlowOutcome.FAILED, f"{what} failed: {error.message}", **detail)
        return refused, error, [record]

    async def _proceed(self, bill: Bill) -> Bill:
        if bill.status is BillStatus.TRANSFER_PENDING:
            return await self.run_business(bill.id)
        if bill.status is BillStatus.BANK_SUBMITTED:
            return await self._send_attempt(bill)
        return bill

    # -- the bank ----------------------------------------------------------------------------
    def payment_command(self, bill: Bill) -> PaymentCommand:
        """The bill's current bank attempt. Its out_request_no (hence the payment id, which is the
        elecChequeNo at the bank) is fixed by the attempt: resubmitting it never pays twice."""
        details = {
            "bill_id": bill.id,
            "bill_attempt": bill.attempt,
            "payee_name": bill.payee_name,
            "payee_bank_name": bill.payee_bank_name,
            "notify": False,  # the caller hears of the bill (bill.*), not of its payments
            "mask_accounts": True,  # card numbers: shown with their last four digits only
        }
        return PaymentCommand(
            app_id=bill.app_id,
            out_request_no=bill.attempt_request_no,
            request_hash=request_fingerprint({"bill_id": bill.id, "attempt": bill.attempt}),
            pay_method=self.policy.pay_method,
            amount=payout_amount(bill.command()),
            payer_account=bill.payer_card_no,
            payee_account=bill.payee_card_no,
            business_type=self.policy.business_type,
            memo=f"{bill.kind.value} {bill.bill_code}",
            details={k: v for k, v in details.items() if v is not None},
            submitter="bills",
        )

    async def _send_attempt(self, bill: Bill) -> Bill:
        cmd = self.payment_command(bill)
        self._emit(
            [
                self._record(
                    bill.id,
                    FlowNode.CHANNEL_REQUEST,
                    FlowOutcome.PENDING,
                    f"bank payment (8801) sent, attempt {bill.attempt}",
                    attempt=bill.attempt,
                    out_request_no=cmd.out_request_no,
                    amount=str(cmd.amount),
                    payer_card_no=mask_card_no(cmd.payer_account),
                    payee_card_no=mask_card_no(cmd.payee_account),
                )
            ]
        )
        try:
            await self.payments.submit(cmd)
        except DomainError as exc:
            return await self._attempt_refused(bill, exc)
        return await self._after_bank(bill.id)

    async def _after_bank(self, bill_id: str) -> Bill:
        """Business processing right after the bank's verified success; the bill otherwise."""
        bill = await self.get(bill_id)
        if bill.status is BillStatus.BANK_SUCCEEDED:
            return await self.run_business(bill.id)
        return bill

    async def _attempt_refused(self, bill: Bill, exc: DomainError) -> Bill:
        """The payment service refused the attempt before a payment existed (no route, over its
        limit): nothing reached the bank, so the bank result is a definite failure."""
        now = self.clock()
        async with self.uow() as uow:
            if await uow.payments.by_request_no(bill.app_id, bill.attempt_request_no) is not None:
                raise exc  # a payment exists: its outcome, not this error, decides
            repo = self.bills_of(uow)
            current = await repo.get_for_update(bill.id)
            if (
                current is None
                or current.status is not BillStatus.BANK_SUBMITTED
                or current.attempt != bill.attempt
            ):
                return current or bill
            failed = current.moved(BillStatus.BANK_FAILED, now, failure=BillFailure.of(exc))
            await repo.save(failed, expected_status=BillStatus.BANK_SUBMITTED)
            await publish(uow, failed, "failed", now)
            await uow.commit()
        self._emit(
            [
                self._record(
                    bill.id,
                    FlowNode.CHANNEL_ANSWER,
                    FlowOutcome.FAILED,
                    f"bank payment refused before it was sent: {exc.message}",
                    attempt=bill.attempt,
                    code=exc.code,
                )
            ]
        )
        return failed

    # -- business processing -----------------------------------------------------------------
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
        bill = await self.get(bill_id)  # app and currency never change
        due = _BUSINESS_DUE | (
            {BillStatus.BUSINESS_FAILED} if action is ErrorAction.RERUN_BUSINESS else set()
        )
        now = self.clock()
        async with self.uow() as uow:
            company = await self.bills_of(uow).company_accounts(bill.app_id, bill.currency, at=now)
            await uow.commit()
        try:
            async with self.uow() as uow:
                repo = self.bills_of(uow)
                current = await repo.get_for_update(bill_id)
                assert current is not None, "bills are never deleted"
                if current.status not in due:
                    if action is not None:
                        check_action(action, current.status, current.mode or PayMode.TRANSFER)
                    return current
                loans = await repo.loans(
                    current.app_id, [w.loan_bill_id for w in current.write_offs], lock=True
                )
                plan = plan_business(current.command(), loans, company.paying, company.write_off)
                txn_id = await uow.ledger.post(current.id, plan.postings, at=now)
                if plan.transfer_log is not None:
                    await repo.add_transfer_log(current.id, txn_id, plan.transfer_log, at=now)
                await repo.add_write_off_logs(current.id, txn_id, plan.write_off_logs, at=now)
                for update in plan.loan_updates:
                    await repo.update_loan(update, at=now)
                done = current.moved(
                    BillStatus.COMPLETED,
                    now,
                    failure=None,
                    completed_at=now,
                    loan_open_amount=plan.opened_loan,
                    loan_state=LoanState.OPEN if plan.opened_loan is not None else None,
                )
                await repo.save(done, expected_status=current.status)
                await publish(uow, done, "completed", now)
                await uow.commit()
        except DomainError as exc:
            if exc.code == ACTION_PRECONDITION_FAILED:
                raise
            return await self._business_failed(bill_id, due, exc, actor)
        records = [
            self._record(
                bill_id,
                FlowNode.BUSINESS_PROCESSING,
                message=f"business processing committed ({current.pay_mode} mode)",
                actor=actor,
                paid_amount=str(plan.paid_amount),
                write_off_total=str(plan.write_off_total),
                company_account=company.paying,
                write_off_account=company.write_off,
                transfer_log=plan.transfer_log is not None,
            ),
            self._record(
                bill_id,
                FlowNode.LEDGER_POSTED,
                message=f"{len(plan.postings)} ledger flows posted",
                txn_id=txn_id,
                flows=[
                    {"account": p.account_id, "amount": str(p.amount), "kind": p.kind.value}
                    for p in plan.postings
                ],
            ),
        ]
        if plan.write_off_logs:
            records.append(
                self._record(
                    bill_id,
                    FlowNode.WRITE_OFF,
                    message=f"{len(plan.write_off_logs)} loans written off",
                    lines=[
                        {
                            "loan_bill_id": u.loan_bill_id,
                            "amount": str(u.expected_open_amount - u.open_amount),
                            "open_before": str(u.expected_open_amount),
                            "open_after": str(u.open_amount),
                            "state": u.state.value,
                        }
                        for u in plan.loan_updates
                    ],
                )
            )
        records.append(self._record(bill_id, FlowNode.FINAL_STATE, message="completed", txn_id=txn_id))
        self._emit(records)
        return done

    async def _business_failed(
        self, bill_id: str, due: frozenset[BillStatus], exc: DomainError, actor: str | None
    ) -> Bill:
        """The business transaction rolled back: record why, in a small transaction of its own."""
        now = self.clock()
        async with self.uow() as uow:
            repo = self.bills_of(uow)
            current = await repo.get_for_update(bill_id)
            assert current is not None, "bills are never deleted"
            if current.status not in due:
                return current
            failed = current.moved(BillStatus.BUSINESS_FAILED, now, failure=BillFailure.of(exc))
            await repo.save(failed, expected_status=current.status)
            await publish(uow, failed, "failed", now)
            await uow.commit()
        self._emit(
            [
                self._record(
                    bill_id,
                    FlowNode.BUSINESS_PROCESSING,
                    FlowOutcome.FAILED,
                    f"business processing rolled back: {exc.message}",
                    actor=actor,
                    code=exc.code,
                    field=exc.field,
                )
            ]
        )
        return failed

    # -- error handling (差错处理) -------------------------------------------------------------
    async def act(self, bill_id: str, action: ErrorAction, operator: str, reason: str | None = None) -> Bill:
        """Run an operator's action once its seed precondition holds (ACTION_PRECONDITION_FAILED
        otherwise); every attempt is in the flow log with the operator and the reason."""
        bill = await self.get(bill_id)
        note: dict[str, Any] = {"action": action.value, "reason": reason, "status_before": bill.status.value}
        try:
            check_action(action, bill.status, bill.mode or PayMode.TRANSFER)
            if action is ErrorAction.RESEND_BANK:
                return await self._send_attempt(await self._resend(bill, operator, note))
            if action is ErrorAction.SWITCH_TO_TRANSFER:
                await self._switch_to_transfer(bill, operator, note)
                return await self.run_business(bill_id, actor=operator)
            self._operator(bill_id, operator, note, action.value)
            if action is ErrorAction.REVALIDATE:
                return await self._revalidate(bill)
            if action is ErrorAction.REQUERY_BANK:
                return await self._requery(bill)
            return await self.run_business(bill_id, action=action, actor=operator)
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
        self._emit(
            [self._record(bill_id, FlowNode.OPERATOR_ACTION, outcome, message, actor=operator, **note)]
        )

    async def _revalidate(self, bill: Bill) -> Bill:
        now = self.clock()
        checked, _, trail = await self._checked(bill, now)
        async with self.uow() as uow:
            repo = self.bills_of(uow)
            current = await repo.get_for_update(bill.id)
            assert current is not None, "bills are never deleted"
            if current.status is not bill.status:  # another operator got there first
                check_action(ErrorAction.REVALIDATE, current.status, current.mode or PayMode.TRANSFER)
                raise _changed(ErrorAction.REVALIDATE, current)
            await repo.save(checked, expected_status=current.status)
            await uow.commit()
        self._emit(trail)
        return await self._proceed(checked)

    async def _resend(self, bill: Bill, operator: str, note: dict[str, Any]) -> Bill:
        """A new attempt after a definite bank rejection: a new payment, elecChequeNo, packet id."""
        now = self.clock()
        async with self.uow() as uow:
            repo = self.bills_of(uow)
            current = await self._bank_failed_for_update(repo, bill.id, ErrorAction.RESEND_BANK)
            started = current.moved(
                BillStatus.BANK_SUBMITTED, now, attempt=current.attempt + 1, payment_id=None, failure=None
            )
            await repo.save(started, expected_status=current.status)
            await uow.commit()
        self._operator(bill.id, operator, note, f"resend_bank: attempt {started.attempt}")
        return started

    async def _switch_to_transfer(self, bill: Bill, operator: str, note: dict[str, Any]) -> Bill:
        now = self.clock()
        async with self.uow() as uow:
            repo = self.bills_of(uow)
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

    async def _requery(self, bill: Bill) -> Bill:
        """Ask the bank (8804) about the current attempt; an attempt never sent is sent now."""
        async with self.reads() as uow:
            attempt = await self.bills_of(uow).attempt_payment(bill)
        if attempt is None:
            return await self._send_attempt(bill)
        payment, queries = attempt
        await self.payments.resolve(payment, queries)
        return await self._after_bank(bill.id)

    # -- the worker's round ------------------------------------------------------------------
    async def process_due(self, limit: int) -> int:
        """Business processing of bills the bank just paid or left due (bank_succeeded,
        transfer_pending: a crash between the two transactions), and recovery of attempts left
        bank_submitted (sent when never saved, queried when saved but unanswered)."""
        ids = self.due.take()
        async with self.reads() as uow:
            repo = self.bills_of(uow)
            ids += await repo.due_for_business(limit)
            stale = await repo.unanswered_attempts(self.clock() - self.policy.resubmit_after, limit)
        done = 0
        for bill_id in dict.fromkeys(ids):
            try:
                await self.run_business(bill_id)
                done += 1
            except Exception:
                log.exception("business processing failed", extra={"bill_id": bill_id})
        for bill in stale:
            try:
                await self._recover_attempt(bill)
                done += 1
            except Exception:
                log.exception("bank attempt recovery failed", extra={"bill_id": bill.id})
        return done

    async def _recover_attempt(self, bill: Bill) -> None:
        async with self.reads() as uow:
            attempt = await self.bills_of(uow).attempt_payment(bill)
        if attempt is None:
            await self._send_attempt(bill)  # never saved, so never sent: send it now
        elif attempt[0].status is PaymentStatus.CREATED:
            await self.payments.resolve(attempt[0], attempt[1])  # saved, answer lost: query only
            await self._after_bank(bill.id)

    def allowed_actions(self, bill: Bill) -> list[str]:
        mode = bill.mode or PayMode.TRANSFER
        return sorted(action.value for action in allowed_actions(bill.status, mode))


def _check_applicant_currency(bill: Bill, applicant: Applicant | None) -> None:
    """The applicant's account must hold the bill's currency, or no ledger flow could reach it."""
    if applicant is not None and applicant.currency != bill.currency:
        raise BusinessRuleViolation(
            f"applicant account {bill.applicant_account_id} holds {applicant.currency}, not the bill's "
            f"{bill.currency}; name the applicant's {bill.currency} account",
            field="applicant_account",
            code="APPLICANT_ACCOUNT_INVALID",
        )


def _changed(action: ErrorAction, bill: Bill, why: str | None = None) -> DomainError:
    return Conflict(
        f"{action.value} refused: {why or 'the bill changed meanwhile'}; the bill is {bill.status.value}",
        field="status",
        code=ACTION_PRECONDITION_FAILED,
    )

"""Follows a bill's bank payments: moves the bill inside the payment's transaction, queues paid bills."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime

from core.bills.model import BankFailureEvidence, Bill, BillFailure, BillStatus
from core.events import EventType
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.payments.model import Payment, PaymentStatus
from core.usecases.bills.events import publish
from ports.storage import UnitOfWork

log = logging.getLogger("paygate.bills")

BILL_STATUS_OF_PAYMENT = {
    PaymentStatus.PROCESSING: BillStatus.BANK_PROCESSING,
    PaymentStatus.UNKNOWN: BillStatus.BANK_UNKNOWN,
    PaymentStatus.SUCCEEDED: BillStatus.BANK_SUCCEEDED,
    PaymentStatus.FAILED: BillStatus.BANK_FAILED,
}
# The out_request_no of the attempt whose 8801 call this task is making: its answer, applied by
# that call, is the 8801 answer; any other answer (a query of an attempt whose 8801 answer was
# lost, by the bill worker or the query poller) comes from 8804.
_SENDING_8801: ContextVar[str | None] = ContextVar("bill_sending_8801", default=None)


@contextlib.contextmanager
def sending_8801(out_request_no: str) -> Iterator[None]:
    """Mark the 8801 call of one attempt, made in this task, for the listener."""
    token = _SENDING_8801.set(out_request_no)
    try:
        yield
    finally:
        _SENDING_8801.reset(token)


_AWAITING_BANK = frozenset({BillStatus.BANK_SUBMITTED, BillStatus.BANK_PROCESSING, BillStatus.BANK_UNKNOWN})
_BUSINESS_DUE = frozenset({BillStatus.BANK_SUCCEEDED, BillStatus.TRANSFER_PENDING})


class DueBills:
    """Bills due for a worker's next round, and the event that wakes it. The bank's payments: the
    listener adds the bills the bank has just paid inside the payment's transaction, the bill
    worker takes them right after (its business transaction waits for that commit). The attempts
    to send: intake and resend_bank add a bill once its attempt is committed, the bill send
    worker takes it at once."""

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


class BillPaymentListener:
    """Moves a bill with its bank payment inside the payment's transaction: processing ->
    bank_processing, unknown -> bank_unknown, succeeded -> bank_succeeded, failed -> bank_failed.
    Only the current attempt moves the bill; a bill is never paid without the payment's success."""

    def __init__(self, due: DueBills) -> None:
        self.due = due

    def follows(self, payment: Payment) -> bool:
        return isinstance(payment.details.get("bill_id"), str)

    async def __call__(self, uow: UnitOfWork, payment: Payment) -> None:
        bill_id = payment.details.get("bill_id")
        target = BILL_STATUS_OF_PAYMENT.get(payment.status)
        if not isinstance(bill_id, str) or target is None:
            return  # not a bill's payment, or not answered yet
        repo = uow.bills
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
        failure = _bank_failure(payment) if target is BillStatus.BANK_FAILED else None
        first = current.status is BillStatus.BANK_SUBMITTED and _SENDING_8801.get() == payment.out_request_no
        moved = current.moved(
            target,
            payment.updated_at,
            payment_id=payment.id,
            failure=failure,
            bank_failure_evidence=_evidence(first) if failure is not None else None,
        )
        await repo.save(moved, expected_status=current.status)
        if failure is not None:
            await publish(uow, moved, EventType.BILL_FAILED, payment.updated_at)
        # true only if the move commits: written in its transaction
        records = [_answer_record(current, target, payment, first)]
        if failure is not None:
            records.append(failed_state_record(moved, payment.updated_at))
        await uow.write_flow(records)
        if target is BillStatus.BANK_SUCCEEDED:
            self.due.add(bill_id)


def _bank_failure(payment: Payment) -> BillFailure:
    return BillFailure(
        payment.failure_code or "BANK_REFUSED",
        payment.failure_message or "the bank refused the payment",
    )


def _evidence(first: bool) -> BankFailureEvidence:
    """How a failed payment is known not to be paid. A channel answers FAILED only for a definite
    refusal or a verified final query answer (ports.channels); anything else is UNKNOWN. The
    answer of the attempt's own 8801 call is its 8801 answer, every other one comes from 8804."""
    return BankFailureEvidence.DEFINITE_REFUSAL if first else BankFailureEvidence.FINAL_8804


def failed_state_record(bill: Bill, at: datetime) -> FlowRecord:
    """The final-state node (单据完成状态) of a bill that stopped failed: bank_failed or
    business_failed, waiting for an operator (it may still complete)."""
    failure = bill.failure
    return FlowRecord(
        bill.id,
        FlowNode.FINAL_STATE,
        FlowOutcome.FAILED,
        at,
        f"bill {bill.status.value}: {failure.message if failure else 'failed'}",
        {"status": bill.status.value, "attempt": bill.attempt, "code": failure.code if failure else None},
    )


def _answer_record(current: Bill, target: BillStatus, payment: Payment, first: bool) -> FlowRecord:
    """The flow-log node of a bank answer: the answer of the attempt's own 8801 call, or an 8804
    answer (also the first answer of an attempt whose 8801 answer was lost)."""
    outcome = FlowOutcome.PENDING
    if target is BillStatus.BANK_FAILED:
        outcome = FlowOutcome.FAILED
    elif target is BillStatus.BANK_SUCCEEDED:
        outcome = FlowOutcome.OK
    return FlowRecord(
        current.id,
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

"""The rent periods follow their deductions' payments, inside each payment's transaction."""

from __future__ import annotations

import logging

from core.events import EventType
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.lease.order import LeaseOrder
from core.lease.status import PeriodStatus
from core.payments.model import Payment, PaymentStatus
from core.usecases.lease.book import publish
from core.usecases.lease.policy import LeasePolicy
from core.usecases.lease.views import period_view
from ports.storage import UnitOfWork

log = logging.getLogger("paygate.lease")


def _deduction_of(payment: Payment) -> tuple[str, int, int] | None:
    """(order id, period no, attempt) of a rent deduction's payment; None for any other payment."""
    d = payment.details
    order_id, no, attempt = d.get("lease_order_id"), d.get("lease_period_no"), d.get("lease_attempt")
    if not isinstance(order_id, str) or not isinstance(no, int) or not isinstance(attempt, int):
        return None
    return order_id, no, attempt


class LeasePaymentListener:
    """Moves a rent period with its deduction's payment, inside the payment's transaction:
    succeeded -> paid, failed -> failed (retried on the schedule), otherwise it stays
    collecting. Only the period's current attempt moves it."""

    def __init__(self, policy: LeasePolicy) -> None:
        self.policy = policy

    def follows(self, payment: Payment) -> bool:
        return _deduction_of(payment) is not None

    async def __call__(self, uow: UnitOfWork, payment: Payment) -> None:
        deduction = _deduction_of(payment)
        if deduction is None:
            return  # not a rent deduction
        order_id, no, attempt = deduction
        repo = uow.lease_orders
        current = await repo.get_for_update(order_id)
        if current is None:
            log.error("deduction of a missing lease order", extra={"payment_id": payment.id})
            return
        moved = self._moved(current, no, attempt, payment)
        if moved is current:
            return
        saved = await repo.save(moved, expected_version=current.version)
        period = saved.period(no)
        at = payment.updated_at
        if period.status is PeriodStatus.PAID:
            await publish(uow, saved, EventType.LEASE_PERIOD_PAID, at, period=period_view(period))
        elif period.status in (PeriodStatus.FAILED, PeriodStatus.CANCELLED):
            await publish(uow, saved, EventType.LEASE_PERIOD_FAILED, at, period=period_view(period))
        if period.status is not PeriodStatus.COLLECTING:
            # true only if the move commits: written in its transaction
            await uow.write_flow([_answer_record(order_id, no, attempt, payment, saved)])

    def _moved(self, order: LeaseOrder, no: int, attempt: int, payment: Payment) -> LeaseOrder:
        at = payment.updated_at
        if payment.status is PaymentStatus.SUCCEEDED:
            return order.attempt_paid(no, attempt, payment.id, payment.channel_ref, at)
        if payment.status is PaymentStatus.FAILED:
            code = payment.failure_code or "DEDUCTION_FAILED"
            return order.attempt_failed(
                no, attempt, payment.id, code, payment.failure_message, at, self.policy.retry
            )
        return order.attempt_pending(no, attempt, payment.id, at)


def _answer_record(order_id: str, no: int, attempt: int, payment: Payment, order: LeaseOrder) -> FlowRecord:
    period = order.period(no)
    return FlowRecord(
        order_id,
        FlowNode.CHANNEL_ANSWER,
        FlowOutcome.OK if period.status is PeriodStatus.PAID else FlowOutcome.FAILED,
        payment.updated_at,
        f"period {no} attempt {attempt}: {period.status.value}",
        {"payment_id": payment.id, "failure_code": period.last_failure_code, "trade_no": period.trade_no},
    )

"""LeasePaymentListener: a rent period follows its current attempt's payment inside the
payment's transaction; payments of older attempts, or of no rent, move nothing."""

from __future__ import annotations

from datetime import timedelta

from fakes.storage import FakeState, FakeStorage
from lease_builders import T0, collecting, new_order

from core.flowlog import FlowRecord
from core.lease.order import LeaseOrder
from core.lease.plan import RetrySchedule
from core.lease.status import PeriodStatus
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from core.usecases.lease.listener import LeasePaymentListener
from core.usecases.lease.policy import LeasePolicy

POLICY = LeasePolicy(retry=RetrySchedule((3600,)))


def attempt_started() -> LeaseOrder:
    order, _ = collecting(new_order()).start_attempt(1, T0)
    return order


def payment(status: PaymentStatus, attempt: int = 1, **details: object) -> Payment:
    return Payment(
        id=f"pay_{attempt}",
        app_id="shop",
        out_request_no=f"lease/x/1/{attempt}",
        request_hash="h",
        pay_method="withholding",
        channel="ant_lease",
        amount=Money(10000, "CNY"),
        payer_account=None,
        payee_account=None,
        status=status,
        created_at=T0,
        updated_at=T0 + timedelta(minutes=1),
        channel_ref="TRADE-1" if status is PaymentStatus.SUCCEEDED else None,
        failure_code="BUYER_BALANCE_NOT_ENOUGH" if status is PaymentStatus.FAILED else None,
        details=details
        or {
            "lease_order_id": "lse_0195f2a3b4c5d6e7f8091a2b3c4",
            "lease_period_no": 1,
            "lease_attempt": attempt,
        },
    )


async def heard(order: LeaseOrder, paid: Payment) -> tuple[FakeState, list[FlowRecord]]:
    """The listener in the payment's transaction; returns that transaction's (uncommitted) state
    and the flow nodes it wrote in that transaction."""
    storage = FakeStorage(frozenset({"shop"}))
    storage.state.lease_orders[order.id] = order
    async with storage.uow() as uow:
        await LeasePaymentListener(POLICY)(uow, paid)
        assert not uow.committed, "the payment's transaction commits, not the listener"
        return uow.state, list(uow.state.flow)


async def test_a_succeeded_deduction_pays_its_period_in_the_payments_transaction() -> None:
    order = attempt_started()
    work, flow = await heard(order, payment(PaymentStatus.SUCCEEDED))
    period = work.lease_orders[order.id].period(1)
    assert period.status is PeriodStatus.PAID and period.trade_no == "TRADE-1"
    assert work.events() == ["lease.period_paid"]
    assert work.outbox[0]["payload"]["period"]["status"] == "paid"
    assert [r.message for r in flow] == ["period 1 attempt 1: paid"]


async def test_a_failed_deduction_fails_its_period_until_the_retry_time() -> None:
    order = attempt_started()
    work, _ = await heard(order, payment(PaymentStatus.FAILED))
    period = work.lease_orders[order.id].period(1)
    assert period.status is PeriodStatus.FAILED and period.last_failure_code == "BUYER_BALANCE_NOT_ENOUGH"
    assert period.next_attempt_at == T0 + timedelta(minutes=1, seconds=3600)
    assert work.events() == ["lease.period_failed"]


async def test_a_processing_deduction_only_remembers_its_payment() -> None:
    order = attempt_started()
    work, flow = await heard(order, payment(PaymentStatus.PROCESSING))
    period = work.lease_orders[order.id].period(1)
    assert period.status is PeriodStatus.COLLECTING and period.payment_id == "pay_1"
    assert work.outbox == [] and flow == []


async def test_an_answer_about_an_older_attempt_moves_nothing() -> None:
    order = attempt_started()
    work, _ = await heard(order, payment(PaymentStatus.SUCCEEDED, attempt=2))
    assert work.lease_orders[order.id] == order and work.outbox == []


async def test_a_payment_that_is_no_rent_deduction_is_ignored() -> None:
    order = attempt_started()
    work, _ = await heard(order, payment(PaymentStatus.SUCCEEDED, memo="no lease fields"))
    assert work.lease_orders[order.id] == order and work.outbox == []

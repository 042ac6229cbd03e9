"""Rent collection by withholding (代扣): an attempt for every period due, each a payment whose
out_request_no is fixed by (order, period, attempt), so resubmitting it never withholds twice."""

from __future__ import annotations

import logging
from datetime import datetime

from core.errors import DomainError
from core.events import EventType
from core.flowlog import FlowNode, FlowOutcome
from core.lease.numbers import attempt_request_no
from core.lease.order import LeaseOrder
from core.lease.parts import RentPeriod
from core.lease.status import PeriodStatus
from core.payments.model import request_fingerprint
from core.usecases.lease.book import LeaseBook
from core.usecases.lease.policy import LeasePolicy
from core.usecases.payments.commands import PaymentCommand
from core.usecases.payments.service import PaymentService
from ports.storage import ConcurrentUpdate

log = logging.getLogger("paygate.lease")


class RentCollection:
    """Starts deduction attempts and submits them through `PaymentService`; the
    `LeasePaymentListener` moves each period with its attempt's payment."""

    def __init__(self, book: LeaseBook, payments: PaymentService, policy: LeasePolicy) -> None:
        self.book = book
        self.payments = payments
        self.policy = policy

    async def collect_due(self, limit: int, now: datetime | None = None) -> int:
        """Start an attempt for every period due by `now`: pending periods from their due
        date, failed ones from their retry time. Returns how many attempts were started."""
        now = now or self.book.clock()
        async with self.book.reads() as uow:
            order_ids = await uow.lease_orders.with_due_periods(now, limit)
        started = 0
        for order_id in order_ids:
            order = await self.book.find(order_id)
            for period in order.due_periods(now) if order else ():
                try:
                    if await self._collect(order_id, period.no, now):
                        started += 1
                except Exception:
                    log.exception("rent collection failed", extra={"order_id": order_id, "period": period.no})
        return started

    async def _collect(self, order_id: str, no: int, now: datetime) -> bool:
        try:
            async with self.book.uow() as uow:
                repo = uow.lease_orders
                current = await repo.get_for_update(order_id)
                if current is None or no not in [p.no for p in current.due_periods(now)]:
                    return False  # collected meanwhile, or no longer collectable
                moved, period = current.start_attempt(no, now)
                order = await repo.save(moved, expected_version=current.version)
                await uow.commit()
        except ConcurrentUpdate:
            return False  # another worker took it: never two live attempts
        await self._submit(order, period)
        return True

    def attempt_command(self, order: LeaseOrder, period: RentPeriod) -> PaymentCommand:
        """The payment of one attempt: its out_request_no (hence its id, Alipay's out_trade_no)
        is fixed by (order, period, attempt), so resubmitting it never withholds twice."""
        details = {
            "lease_order_id": order.id,
            "lease_period_no": period.no,
            "lease_attempt": period.attempts,
            "agreement_no": order.agreement.agreement_no,
            "channel_order_id": order.channel_order_id,
            "installment_no": period.no,
            "subject": f"{order.title} {period.no}/{len(order.periods)}",
            "notify": False,  # the caller hears of the period (lease.period_*), not of the payment
        }
        return PaymentCommand(
            app_id=order.app_id,
            out_request_no=attempt_request_no(order.id, period.no, period.attempts),
            request_hash=request_fingerprint(
                {"order": order.id, "period": period.no, "attempt": period.attempts}
            ),
            pay_method=self.policy.pay_method,
            amount=period.amount,
            payer_account=order.buyer_id,
            payee_account=None,
            channel=order.channel,
            business_type=self.policy.business_type,
            memo=f"rent {order.out_order_no} period {period.no}",
            details={k: v for k, v in details.items() if v is not None},
            submitter="lease",
        )

    async def _submit(self, order: LeaseOrder, period: RentPeriod) -> None:
        cmd = self.attempt_command(order, period)
        self.book.trail.record(
            order.id,
            FlowNode.CHANNEL_REQUEST,
            message=f"deduction of period {period.no}, attempt {period.attempts}",
            outcome=FlowOutcome.PENDING,
            out_request_no=cmd.out_request_no,
            amount=str(period.amount),
        )
        try:
            await self.payments.submit(cmd)
        except DomainError as exc:
            await self._refused(order, period, exc)

    async def _payment_exists(self, order: LeaseOrder, period: RentPeriod) -> bool:
        out_request_no = attempt_request_no(order.id, period.no, period.attempts)
        async with self.book.reads() as uow:
            return await uow.payments.by_request_no(order.app_id, out_request_no) is not None

    async def _refused(self, order: LeaseOrder, period: RentPeriod, exc: DomainError) -> None:
        """No payment could be made (no route, over the limit): nothing was withheld."""
        if await self._payment_exists(order, period):
            raise exc  # a payment exists: its outcome, not this error, decides
        await self.book.change(
            order.id,
            lambda o, at: o.attempt_failed(
                period.no, period.attempts, None, exc.code, exc.message, at, self.policy.retry
            ),
            lambda before, after: (
                EventType.LEASE_PERIOD_FAILED
                if after.period(period.no).status is not PeriodStatus.COLLECTING
                else None
            ),
        )

    async def recover_attempt(self, order_id: str, no: int, attempt: int) -> LeaseOrder:
        """An attempt left collecting: submit it if its payment was never saved (a crash
        between the two); a saved payment is resolved by the query poller, never resent."""
        order = await self.book.get(order_id)
        period = order.period(no)
        if period.status is not PeriodStatus.COLLECTING or period.attempts != attempt:
            return order
        if not await self._payment_exists(order, period):
            await self._submit(order, period)
        return order

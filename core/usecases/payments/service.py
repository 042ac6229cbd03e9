"""`PaymentService`: the payment use cases behind one object, as workflows, workers and handlers call them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from core.payments.model import Payment
from core.payments.routing import Router, RouteRequest
from core.usecases.payments.channels import ChannelAccess
from core.usecases.payments.commands import PaymentCommand, PaymentListener
from core.usecases.payments.notices import NoticeOutcome
from core.usecases.payments.policy import PaymentPolicy, QuerySchedule
from core.usecases.payments.resolve import PaymentResolution
from core.usecases.payments.results import PaymentResults
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.submit import PaymentSubmission
from core.usecases.payments.trail import PaymentTrail
from ports.channels import Channel, ChannelNotification, ChannelResult


class PaymentService:
    """Submit (`submit.py`), apply channel results (`results.py`), resolve by query (`resolve.py`).

    `listeners` run inside every transaction that moves a payment, with the moved payment."""

    def __init__(
        self,
        storage: PaymentStorage,
        access: ChannelAccess,
        policy: PaymentPolicy,
        trail: PaymentTrail,
        listeners: Sequence[PaymentListener] = (),
    ) -> None:
        self.storage = storage
        self.access = access
        self.policy = policy
        self.listeners: list[PaymentListener] = list(listeners)
        self.results = PaymentResults(storage, policy, trail, self.listeners)
        self.submission = PaymentSubmission(storage, access, policy, trail, self.results)
        self.resolution = PaymentResolution(storage, access, policy, trail, self.results)
        self.clock: Callable[[], datetime] = trail.clock

    @property
    def router(self) -> Router:
        return self.access.router

    @property
    def channels(self) -> Mapping[str, Channel]:
        return self.access.channels

    @property
    def max_amounts(self) -> Mapping[str, Decimal]:
        return self.policy.max_amounts

    def schedule_for(self, channel: str) -> QuerySchedule:
        return self.policy.schedule_for(channel)

    def explain(self, req: RouteRequest, app_id: str | None = None) -> dict[str, object]:
        """The rule `req` takes (for `app_id`, when a caller app asks); raises what submitting it
        would: NO_ROUTE, or PAY_METHOD_NOT_ALLOWED saying which rules refuse the submitter."""
        if app_id is not None:
            self.policy.check_pay_method(app_id, req.pay_method, req.submitter)
        return self.access.router.select(req).explain()

    async def by_request_no(self, app_id: str, out_request_no: str) -> Payment | None:
        """The payment `app_id` asked for with `out_request_no`, if any."""
        return await self.storage.by_request_no(app_id, out_request_no)

    async def submit(self, cmd: PaymentCommand) -> tuple[Payment, bool]:
        """Returns (payment, created). A repeat of the same request returns the first result."""
        return await self.submission.submit(cmd)

    async def apply_result(self, payment_id: str, result: ChannelResult, *, via: str) -> Payment:
        """Apply a channel answer (submit, query or verified notification) exactly once."""
        return await self.results.apply_result(payment_id, result, via=via)

    async def apply_notice(self, channel: str, notice: ChannelNotification) -> NoticeOutcome:
        """Apply a notice verified for `channel`, only to that channel's payment it matches."""
        return await self.results.apply_notice(channel, notice)

    async def resolve(self, payment: Payment, attempts: int) -> Payment:
        """Query the channel about a processing/unknown payment; reschedule or escalate."""
        return await self.resolution.resolve(payment, attempts)

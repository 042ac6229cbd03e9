"""Applying a channel's answer to a payment, in the one transaction that moves it and its listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from core.errors import NotFound
from core.events import PAYMENT_EVENT_OF_STATUS
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.payments.model import Payment, PaymentStatus
from core.usecases.payments.channels import STATUS_FROM_CHANNEL
from core.usecases.payments.commands import PaymentListener, ReturnListener
from core.usecases.payments.notices import NoticeOutcome, NoticeRefusal, notice_mismatch
from core.usecases.payments.policy import PaymentPolicy
from core.usecases.payments.stores import PaymentStorage
from core.usecases.payments.trail import PaymentTrail
from core.usecases.payments.views import payment_view
from core.usecases.shared.conflicts import retry_on_conflict
from core.usecases.shared.outbox import publish
from ports.channels import ChannelNotification, ChannelResult, ChannelStatus
from ports.storage import LedgerWork, UnitOfWork

log = logging.getLogger("paygate.payments")


class PaymentResults:
    """Moves payments per their channels' answers: ledger, exchanges, listeners, outbox, schedule."""

    def __init__(
        self,
        storage: PaymentStorage,
        policy: PaymentPolicy,
        trail: PaymentTrail,
        listeners: list[PaymentListener],
    ) -> None:
        self.storage = storage
        self.policy = policy
        self.trail = trail
        # shared with PaymentService.listeners: a listener added there is called here
        self.listeners = listeners

    async def apply(
        self,
        uow: UnitOfWork,
        payment: Payment,
        result: ChannelResult,
        now: datetime,
        *,
        schedule: dict[str, Any] | None = None,
    ) -> Payment:
        """Move the stored payment per the channel result inside `uow` (ledger + outbox when
        final), and the workflow records that follow it (the listeners). `schedule`: the next
        query of a payment still open (default: the schedule's first step)."""
        moved = _moved(payment, result, now)
        await _post(uow, payment, moved, result, now)
        if moved.is_final or schedule is None:
            schedule = await self._follow_up(uow, moved, now)
        await self.save_move(uow, payment, moved, schedule)
        if is_return_of(moved, result):
            await self.returned(uow, moved, result, now)
        return moved

    async def returned(self, uow: UnitOfWork, payment: Payment, result: ChannelResult, now: datetime) -> bool:
        """The late channel fact that a succeeded payment's money came back, told to the
        workflows following it inside `uow`. The payment itself stays succeeded: final means
        final. Returns whether a workflow record changed (a repeated fact changes nothing)."""
        changed = False
        for listener in self.listeners:
            if isinstance(listener, ReturnListener) and listener.follows(payment):
                told = await listener.returned(uow, payment, now, code=result.code, message=result.message)
                changed = told or changed
        return changed

    async def save_move(
        self, uow: UnitOfWork, before: Payment, moved: Payment, schedule: dict[str, Any]
    ) -> None:
        """The one way a stored payment's state is written, with its query schedule: every change
        of it is told to the listeners in the same transaction, so a payout, bill or lease period
        never lags its payment. A move that changes nothing but the time (a query that learnt
        nothing new) is no news to them."""
        if replace(moved, updated_at=before.updated_at) != before:
            for listener in self.listeners:
                await listener(uow, moved)
        await uow.payments.save(moved, expected_status=before.status.value, **schedule)

    def followed(self, payment: Payment) -> bool:
        """Whether a workflow's listener follows `payment` (then it needs a whole unit of work)."""
        return any(listener.follows(payment) for listener in self.listeners)

    async def settle(
        self,
        work: LedgerWork,
        payment: Payment,
        result: ChannelResult,
        now: datetime,
        nodes: Callable[[Payment], Sequence[FlowRecord]] | None = None,
    ) -> Payment:
        """Insert a ledger payment as the channel's answer leaves it, inside a ledger payment's
        work (its postings, records and outbox event with it, and the flow-log `nodes` of the
        settled payment, written before its insert so they ride along with it). No listener runs
        here: the caller refuses a payment one of them `followed` before it reaches the ledger."""
        moved = _moved(payment, result, now)
        await _post(work, payment, moved, result, now)
        schedule = await self._follow_up(work, moved, now)
        if nodes is not None:
            await work.write_flow(nodes(moved))
        await work.payments.add(moved, **schedule)
        return moved

    async def _follow_up(self, uow: LedgerWork, moved: Payment, now: datetime) -> dict[str, Any]:
        """A final payment is announced to its app; any other is queried on its channel's schedule.
        Returns the query schedule to store with the payment."""
        if not moved.is_final:
            delay, _ = self.policy.schedule_for(moved.channel).next_delay(0)
            return {"next_query_at": now + timedelta(seconds=delay), "query_attempts": 0}
        if moved.details.get("notify", True):
            event = PAYMENT_EVENT_OF_STATUS[moved.status]
            await publish(uow, moved.app_id, event, moved.id, {"payment": payment_view(moved)}, at=now)
        return {"next_query_at": None}

    async def apply_result(self, payment_id: str, result: ChannelResult, *, via: str) -> Payment:
        """Apply a channel answer (submit, query or verified notification) exactly once; a
        return of a succeeded payment is applied to its workflow once (repeats change nothing)."""
        now = self.trail.clock()

        async def apply_once() -> tuple[Payment, bool, bool]:
            async with self.storage.uow() as uow:
                payment = await uow.payments.get_for_update(payment_id)
                if payment is None:
                    raise NotFound(f"payment {payment_id} does not exist")
                if not payment.is_final:
                    moved = await self.apply(uow, payment, result, now)
                    await uow.commit()
                    return moved, True, is_return_of(moved, result)
                if not is_return_of(payment, result):
                    return payment, False, False
                told = await self.returned(uow, payment, result, now)
                await uow.commit()
            return payment, False, told

        payment, applied, returned = await retry_on_conflict(apply_once, payment_id)
        if applied:
            self.trail.result(payment, result, via)
        elif not returned:
            self._note_late_answer(payment, result, via)
        if returned:
            self.trail.record(
                payment.id,
                FlowNode.RETURNED,
                FlowOutcome.FAILED,
                "the channel returned the paid money" + (f": {result.message}" if result.message else ""),
                via=via,
                code=result.code,
            )
        return payment

    async def apply_notice(self, channel: str, notice: ChannelNotification) -> NoticeOutcome:
        """Apply a notice verified for `channel` to the payment it names, only when that payment
        is of `channel` and the notice's amount, currency and payee (where it states them) are
        the payment's. A refused notice changes nothing: it is logged and recorded in the flow.
        The caller acknowledges it either way (it is verified: the channel need not repeat it)."""
        payment_id, result = notice.payment_id, notice.result
        assert payment_id is not None and result is not None
        # the channel, amount, currency and payee of a payment never change: checked on a read,
        # then applied as any other answer (a return after success included)
        async with self.storage.uow() as uow:
            payment = await uow.payments.get(payment_id)
        if payment is None:
            outcome = NoticeOutcome(None, NoticeRefusal.UNKNOWN_PAYMENT, "no such payment")
        elif (mismatch := notice_mismatch(channel, notice, payment)) is not None:
            outcome = NoticeOutcome(payment, *mismatch)
        else:
            return NoticeOutcome(await self.apply_result(payment_id, result, via="notification"))
        self._note_refused_notice(channel, payment_id, outcome)
        return outcome

    def _note_refused_notice(self, channel: str, payment_id: str, outcome: NoticeOutcome) -> None:
        """A refused notice: a WARNING with the mismatch, and a flow node on a known payment."""
        extra = {"channel": channel, "payment_id": payment_id, "reason": str(outcome.refusal)}
        log.warning("verified notice refused: %s", outcome.detail, extra=extra)
        if outcome.payment is not None:
            self.trail.record(
                outcome.payment.id,
                FlowNode.QUERY_ANSWER,
                FlowOutcome.FAILED,
                f"notice from {channel} refused ({outcome.refusal}): {outcome.detail}",
                via="notification",
            )

    def _note_late_answer(self, payment: Payment, result: ChannelResult, via: str) -> None:
        """A final payment keeps its state; an answer contradicting it needs an operator."""
        if STATUS_FROM_CHANNEL[result.status] not in (
            payment.status,
            PaymentStatus.PROCESSING,
            PaymentStatus.UNKNOWN,
        ):
            self.trail.record(
                payment.id,
                FlowNode.QUERY_ANSWER,
                FlowOutcome.FAILED,
                f"channel now says {result.status.value} but the payment is "
                f"final {payment.status.value}: operator attention needed",
                via=via,
            )


def is_return_of(payment: Payment, result: ChannelResult) -> bool:
    """Whether `result` is the channel's word that `payment`, succeeded, was returned."""
    return result.status is ChannelStatus.RETURNED and payment.status is PaymentStatus.SUCCEEDED


def _moved(payment: Payment, result: ChannelResult, now: datetime) -> Payment:
    target = STATUS_FROM_CHANNEL[result.status]
    return payment.moved(
        target,
        now,
        channel_ref=result.channel_ref or payment.channel_ref,
        failure_code=result.code if target is PaymentStatus.FAILED else None,
        failure_message=result.message if target is PaymentStatus.FAILED else None,
    )


async def _post(
    work: LedgerWork, payment: Payment, moved: Payment, result: ChannelResult, now: datetime
) -> None:
    """The ledger postings of a success, and the channel exchanges, inside `work`."""
    if moved.status is PaymentStatus.SUCCEEDED and result.postings:
        txn_id = await work.ledger.post(payment.id, result.postings, at=now)
        await work.record_transfer(moved, txn_id, at=now)
        await work.add_deferred(payment.id, result.deferred, at=now)
    if result.exchanges:
        await work.record_exchanges(payment.id, payment.channel, result.exchanges, at=now)

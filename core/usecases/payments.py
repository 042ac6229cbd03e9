"""Submitting payments, applying channel results, and resolving unknown outcomes by query."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from core.cards import mask_card_no
from core.errors import (
    BusinessRuleViolation,
    DomainError,
    IdempotencyConflict,
    InvalidArgument,
    NotFound,
)
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import new_id, utcnow
from core.money import Money
from core.payment import Payment, PaymentStatus
from core.routing import Router, RouteRequest
from ports.channels import Channel, ChannelResult, ChannelStatus, PaymentRequest
from ports.storage import (
    Accounts,
    ConcurrentUpdate,
    DuplicateRequest,
    FlowLogSink,
    Transactions,
    UnitOfWork,
    UnitOfWorkFactory,
    transactions_of,
)

log = logging.getLogger("paygate.payments")

STATUS_FROM_CHANNEL = {
    ChannelStatus.SUCCEEDED: PaymentStatus.SUCCEEDED,
    ChannelStatus.FAILED: PaymentStatus.FAILED,
    ChannelStatus.PROCESSING: PaymentStatus.PROCESSING,
    ChannelStatus.UNKNOWN: PaymentStatus.UNKNOWN,
}


# Called inside the transaction that moves a payment, with the moved payment: workflows built on
# payments (payouts, bills) update their own records atomically with the payment's state.
PaymentListener = Callable[[Any, Payment], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PaymentCommand:
    app_id: str
    out_request_no: str
    request_hash: str
    pay_method: str
    amount: Money
    payer_account: str | None
    payee_account: str | None
    channel: str | None = None
    business_type: str | None = None
    memo: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    # accounts of the platform's ledger that this payment names (checked for ownership)
    ledger_accounts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuerySchedule:
    """Seconds to wait before each query of a processing/unknown payment, then escalate."""

    steps: tuple[int, ...]
    after_escalation: int

    def next_delay(self, attempts: int) -> tuple[int, bool]:
        """(delay, escalate_now) for the query following `attempts` earlier ones."""
        if attempts < len(self.steps):
            return self.steps[attempts], False
        return self.after_escalation, attempts == len(self.steps)


def payment_view(p: Payment) -> dict[str, Any]:
    # bank card numbers (a bill's bank attempts) are shown with their last four digits only
    shown = mask_card_no if p.details.get("mask_accounts") else _as_is
    return {
        "id": p.id,
        "out_request_no": p.out_request_no,
        "status": p.status.value,
        "pay_method": p.pay_method,
        "channel": p.channel,
        "amount": str(p.amount),
        "currency": p.amount.currency,
        "payer_account": shown(p.payer_account),
        "payee_account": shown(p.payee_account),
        "business_type": p.business_type,
        "memo": p.memo,
        "channel_ref": p.channel_ref,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
    }


def _as_is(account: str | None) -> str | None:
    return account


class PaymentService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        router: Router,
        channels: Mapping[str, Channel],
        flow: FlowLogSink,
        *,
        max_amounts: Mapping[str, Decimal],
        schedules: Mapping[str, QuerySchedule],
        default_schedule: QuerySchedule,
        reads: UnitOfWorkFactory | None = None,
        listeners: Sequence[PaymentListener] = (),
        channel_timeout: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
        transact: Transactions | None = None,
        accounts: Accounts | None = None,
    ) -> None:
        self.uow = uow
        self.reads = reads or uow
        # the atomic commit of a ledger channel's payment (group-committed on SQLite)
        self.transact = transact or transactions_of(uow)
        # which accounts an app may name (a cache in the gateway; else a read per payment)
        self.accounts = accounts
        self.listeners = list(listeners)
        self.router = router
        self.channels = channels
        self.flow = flow
        self.max_amounts = max_amounts
        self.schedules = schedules
        self.default_schedule = default_schedule
        self.channel_timeout = channel_timeout
        self.clock = clock

    # -- helpers ---------------------------------------------------------------------------
    def _record(
        self,
        subject: str,
        node: FlowNode,
        outcome: FlowOutcome = FlowOutcome.OK,
        message: str = "",
        *,
        at: datetime | None = None,
        **detail: Any,
    ) -> None:
        self.flow.record(FlowRecord(subject, node, outcome, at or self.clock(), message, detail))

    def schedule_for(self, channel: str) -> QuerySchedule:
        return self.schedules.get(channel, self.default_schedule)

    @staticmethod
    def _same_request(existing: Payment, cmd: PaymentCommand) -> Payment:
        if existing.request_hash != cmd.request_hash:
            raise IdempotencyConflict(
                f"out_request_no {cmd.out_request_no!r} was already used with a different body",
                field="out_request_no",
            )
        return existing

    async def _first_result(self, cmd: PaymentCommand) -> Payment:
        """A concurrent duplicate lost the insert race: answer with the winner's payment."""
        async with self.reads() as uow:
            existing = await uow.payments.by_request_no(cmd.app_id, cmd.out_request_no)
        assert existing is not None, "a duplicate insert implies a stored payment"
        return self._same_request(existing, cmd)

    def _request(self, p: Payment) -> PaymentRequest:
        return PaymentRequest(
            payment_id=p.id,
            app_id=p.app_id,
            pay_method=p.pay_method,
            amount=p.amount,
            payer_account=p.payer_account,
            payee_account=p.payee_account,
            business_type=p.business_type,
            memo=p.memo,
            details=p.details,
            created_at=p.created_at,
        )

    def explain(self, req: RouteRequest) -> dict[str, object]:
        return self.router.select(req).explain()

    # -- submit ----------------------------------------------------------------------------
    async def submit(self, cmd: PaymentCommand) -> tuple[Payment, bool]:
        """Returns (payment, created). A repeat of the same request returns the first result."""
        try:
            return await self._submit(cmd)
        except DomainError:
            # A refused request may be the repeat of one that was done before (and would now be
            # refused: the money has moved, a limit changed): the first result wins.
            async with self.reads() as uow:
                existing = await uow.payments.by_request_no(cmd.app_id, cmd.out_request_no)
            if existing is None:
                raise
            return self._same_request(existing, cmd), False

    async def _submit(self, cmd: PaymentCommand) -> tuple[Payment, bool]:
        limit = self.max_amounts.get(cmd.amount.currency)
        if limit is not None and cmd.amount.decimal > limit:
            raise BusinessRuleViolation(
                f"amount {cmd.amount} exceeds the single-payment limit {limit} {cmd.amount.currency}",
                field="amount",
                code="AMOUNT_LIMIT_EXCEEDED",
            )
        decision = self.router.select(
            RouteRequest(
                cmd.pay_method,
                cmd.amount.decimal,
                cmd.amount.currency,
                cmd.channel,
                cmd.business_type,
            )
        )
        channel = self.channels[decision.channel]
        if channel.payment is None:  # the router checks this at start-up
            raise InvalidArgument(f"channel {channel.code} cannot pay", code="NO_ROUTE")
        if not channel.atomic:
            # An atomic channel's insert finds a repeat inside its own transaction; for the
            # others, a repeat must be found before the channel is called again.
            async with self.reads() as uow:
                existing = await uow.payments.by_request_no(cmd.app_id, cmd.out_request_no)
            if existing is not None:
                return self._same_request(existing, cmd), False
        if channel.atomic and cmd.ledger_accounts:
            await self._check_ownership(cmd)
        now = self.clock()
        payment = Payment(
            id=new_id("pay"),
            app_id=cmd.app_id,
            out_request_no=cmd.out_request_no,
            request_hash=cmd.request_hash,
            pay_method=cmd.pay_method,
            channel=channel.code,
            amount=cmd.amount,
            payer_account=cmd.payer_account,
            payee_account=cmd.payee_account,
            status=PaymentStatus.CREATED,
            created_at=now,
            updated_at=now,
            business_type=cmd.business_type,
            memo=cmd.memo,
            details=dict(cmd.details),
        )
        rule_detail: dict[str, Any] = dict(decision.explain()["rule"])  # type: ignore[call-overload]
        trail: list[tuple[FlowNode, str, dict[str, Any]]] = [
            (
                FlowNode.ACCEPTED,
                "request accepted",
                {"app_id": cmd.app_id, "out_request_no": cmd.out_request_no},
            ),
            (FlowNode.VALIDATED, "validation passed", {}),
            (FlowNode.RISK_CHECKED, "risk checks passed", {"limit": str(limit) if limit else None}),
            (FlowNode.ROUTED, f"routed to {channel.code}", rule_detail),
        ]
        if channel.atomic:
            return await self._submit_atomic(channel, payment, cmd, trail)
        return await self._submit_external(channel, payment, cmd, trail)

    async def _check_ownership(self, cmd: PaymentCommand) -> None:
        """A ledger payment may only name accounts of the calling app (others' are a 404)."""
        if self.accounts is not None:
            visible = await self.accounts.visible(cmd.app_id, cmd.ledger_accounts)
        else:
            async with self.reads() as uow:
                visible = await uow.accounts.visible(cmd.app_id, cmd.ledger_accounts)
        missing = [a for a in cmd.ledger_accounts if a not in visible]
        if missing:
            field = (
                "payer_account"
                if missing[0] == cmd.payer_account
                else "payee_account"
                if missing[0] == cmd.payee_account
                else None
            )
            raise NotFound(f"account {missing[0]} does not exist", code="ACCOUNT_NOT_FOUND", field=field)

    async def _submit_atomic(
        self,
        channel: Channel,
        payment: Payment,
        cmd: PaymentCommand,
        trail: list[tuple[FlowNode, str, dict[str, Any]]],
    ) -> tuple[Payment, bool]:
        assert channel.payment is not None
        result = await channel.payment.submit(self._request(payment))
        now = self.clock()

        async def commit(uow: UnitOfWork) -> Payment:
            # inserted in its final state; a repeat fails that insert (DuplicateRequest) and
            # rolls back the whole transaction, postings included
            return await self._apply(uow, payment, result, now, stored=False)

        try:
            final = await self.transact(commit)
        except DuplicateRequest:
            return await self._first_result(cmd), False
        # the request's nodes at its arrival, the answer's at the commit (one time each, taken once)
        accepted = payment.created_at
        for node, message, detail in trail:
            self._record(payment.id, node, FlowOutcome.OK, message, at=accepted, **detail)
        self._record(payment.id, FlowNode.CHANNEL_REQUEST, message=f"{channel.code} submit", at=accepted)
        self._trail_result(final, result, at=now)
        return final, True

    async def _submit_external(
        self,
        channel: Channel,
        payment: Payment,
        cmd: PaymentCommand,
        trail: list[tuple[FlowNode, str, dict[str, Any]]],
    ) -> tuple[Payment, bool]:
        assert channel.payment is not None
        try:
            async with self.uow() as uow:
                await uow.payments.add(payment)
                await uow.commit()
        except DuplicateRequest:
            return await self._first_result(cmd), False
        for node, message, detail in trail:
            self._record(payment.id, node, FlowOutcome.OK, message, **detail)
        self._record(payment.id, FlowNode.REQUEST_SAVED, message="payment saved before the channel call")
        self._record(payment.id, FlowNode.CHANNEL_REQUEST, message=f"{channel.code} submit")
        try:
            result = await asyncio.wait_for(
                channel.payment.submit(self._request(payment)), timeout=self.channel_timeout
            )
        except TimeoutError:
            result = ChannelResult(
                ChannelStatus.UNKNOWN,
                code="TIMEOUT",
                message=f"no answer from {channel.code} within {self.channel_timeout}s",
            )
        except Exception as exc:  # noqa: BLE001 - any failure of the call leaves the outcome unknown
            log.exception("channel submit failed", extra={"payment_id": payment.id})
            result = ChannelResult(ChannelStatus.UNKNOWN, code="CHANNEL_ERROR", message=type(exc).__name__)
        return await self.apply_result(payment.id, result, via="submit"), True

    # -- results ---------------------------------------------------------------------------
    def _trail_result(
        self, payment: Payment, result: ChannelResult, via: str = "submit", *, at: datetime | None = None
    ) -> None:
        node = FlowNode.CHANNEL_ANSWER if via == "submit" else FlowNode.QUERY_ANSWER
        ok = result.status in (ChannelStatus.SUCCEEDED, ChannelStatus.PROCESSING)
        at = at or self.clock()
        self._record(
            payment.id,
            node,
            FlowOutcome.OK
            if ok
            else FlowOutcome.FAILED
            if result.status is ChannelStatus.FAILED
            else FlowOutcome.PENDING,
            f"{result.status.value}" + (f": {result.code}" if result.code else ""),
            at=at,
            channel_ref=result.channel_ref,
            channel_message=result.message,
        )
        if payment.status is PaymentStatus.SUCCEEDED and result.postings:
            self._record(
                payment.id, FlowNode.LEDGER_POSTED, message=f"{len(result.postings)} flows posted", at=at
            )
        if payment.is_final:
            self._record(
                payment.id,
                FlowNode.FINAL_STATE,
                FlowOutcome.OK if payment.status is PaymentStatus.SUCCEEDED else FlowOutcome.FAILED,
                payment.status.value,
                at=at,
                failure_code=payment.failure_code,
            )

    async def _apply(
        self, uow: Any, payment: Payment, result: ChannelResult, now: datetime, *, stored: bool = True
    ) -> Payment:
        """Move the payment per the channel result inside `uow` (ledger + outbox when final).
        `stored=False`: the payment is not in storage yet and is inserted as it ends up."""
        target = STATUS_FROM_CHANNEL[result.status]
        moved = payment.moved(
            target,
            now,
            channel_ref=result.channel_ref or payment.channel_ref,
            failure_code=result.code if target is PaymentStatus.FAILED else None,
            failure_message=result.message if target is PaymentStatus.FAILED else None,
        )
        schedule: dict[str, Any] = {}
        if target is PaymentStatus.SUCCEEDED and result.postings:
            txn_id = await uow.ledger.post(payment.id, result.postings, at=now)
            await uow.record_transfer(moved, txn_id, at=now)
            await uow.add_deferred(payment.id, result.deferred, at=now)
        if result.exchanges:
            await uow.record_exchanges(payment.id, payment.channel, result.exchanges, at=now)
        for listener in self.listeners:
            await listener(uow, moved)
        if moved.is_final:
            schedule = {"next_query_at": None}
            if moved.details.get("notify", True):
                await uow.outbox.enqueue(
                    moved.app_id,
                    f"payment.{moved.status.value}",
                    moved.id,
                    {"payment": payment_view(moved)},
                    at=now,
                )
        else:
            delay, _ = self.schedule_for(moved.channel).next_delay(0)
            schedule = {"next_query_at": now + timedelta(seconds=delay), "query_attempts": 0}
        if stored:
            await uow.payments.save(moved, expected_status=payment.status.value, **schedule)
        else:
            await uow.payments.add(moved, **schedule)
        return moved

    async def apply_result(self, payment_id: str, result: ChannelResult, *, via: str) -> Payment:
        """Apply a channel answer (submit, query or verified notification) exactly once."""
        now = self.clock()
        for _ in range(3):
            try:
                async with self.uow() as uow:
                    payment = await uow.payments.get_for_update(payment_id)
                    if payment is None:
                        raise NotFound(f"payment {payment_id} does not exist")
                    if payment.is_final:
                        if STATUS_FROM_CHANNEL[result.status] not in (
                            payment.status,
                            PaymentStatus.PROCESSING,
                            PaymentStatus.UNKNOWN,
                        ):
                            self._record(
                                payment.id,
                                FlowNode.QUERY_ANSWER,
                                FlowOutcome.FAILED,
                                f"channel now says {result.status.value} but the payment is "
                                f"final {payment.status.value}: operator attention needed",
                                via=via,
                            )
                        return payment
                    moved = await self._apply(uow, payment, result, now)
                    await uow.commit()
            except ConcurrentUpdate:
                continue
            self._trail_result(moved, result, via)
            return moved
        raise ConcurrentUpdate(payment_id)

    async def resolve(self, payment: Payment, attempts: int) -> Payment:
        """Query the channel about a processing/unknown payment; reschedule or escalate."""
        channel = self.channels.get(payment.channel)
        if channel is None or channel.query is None:
            result = ChannelResult(
                ChannelStatus.UNKNOWN,
                code="NO_QUERY_PORT",
                message=f"channel {payment.channel} cannot be queried",
            )
        else:
            try:
                result = await asyncio.wait_for(
                    channel.query.query(self._request(payment), payment.channel_ref),
                    timeout=self.channel_timeout,
                )
            except TimeoutError:
                result = ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT", message="query timed out")
            except Exception as exc:  # noqa: BLE001 - a failed query changes nothing but the schedule
                log.exception("channel query failed", extra={"payment_id": payment.id})
                result = ChannelResult(
                    ChannelStatus.UNKNOWN, code="CHANNEL_ERROR", message=type(exc).__name__
                )
        if result.status in (ChannelStatus.SUCCEEDED, ChannelStatus.FAILED):
            return await self.apply_result(payment.id, result, via="query")
        self._trail_result(payment, result, via="query")
        delay, escalate = self.schedule_for(payment.channel).next_delay(attempts + 1)
        now = self.clock()
        async with self.uow() as uow:
            current = await uow.payments.get_for_update(payment.id)
            if current is None or current.is_final:
                return current or payment
            target = STATUS_FROM_CHANNEL[result.status]
            moved = current.moved(target, now)
            if result.exchanges:
                await uow.record_exchanges(payment.id, payment.channel, result.exchanges, at=now)
            extra: dict[str, Any] = {
                "next_query_at": now + timedelta(seconds=delay),
                "query_attempts": attempts + 1,
            }
            if escalate:
                extra["escalated"] = True
            await uow.payments.save(moved, expected_status=current.status.value, **extra)
            await uow.commit()
        if escalate:
            self._record(
                payment.id,
                FlowNode.ESCALATED,
                FlowOutcome.PENDING,
                "outcome still not final after the query schedule; operators alerted",
                attempts=attempts + 1,
            )
        return moved


def request_accounts(*ids: str | None, extra: Sequence[str] = ()) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for i in (*ids, *extra):
        if i:
            seen[i] = None
    return tuple(seen)

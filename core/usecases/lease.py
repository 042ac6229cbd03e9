"""Lease use cases (seed 000): sync the pre-order, sign the contract and the withholding
agreement, collect rent period by period through payments, cancel the plan, close the order,
and apply the channel's verified callbacks — each an operation on one lease order, recorded
in its flow log, each final change published to the caller app through the outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from core.errors import DomainError, IdempotencyConflict, NoRoute, NotFound
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import new_id, utcnow
from core.lease.errors import ChannelOutcomeUnknown, ChannelRefused, LeaseStateConflict
from core.lease.numbers import attempt_request_no, order_of_external_agreement_no
from core.lease.order import LeaseOrder
from core.lease.parts import RentPeriod, UnsignRefusal
from core.lease.plan import RetrySchedule
from core.lease.request import LeaseOrderBody, check_order
from core.lease.status import (
    AgreementStatus,
    AsyncUnsignOperation,
    CancelReason,
    ContractStatus,
    OrderStatus,
    PeriodStatus,
    PlanStatus,
)
from core.money import Money
from core.payment import Payment, PaymentStatus, request_fingerprint
from core.routing import RouteRequest
from core.usecases.payments import PaymentCommand, PaymentService
from ports.channels import (
    Channel,
    ChannelEvent,
    ChannelStatus,
    Exchange,
    SigningPort,
    SigningRequest,
    SigningResult,
)
from ports.lease import (
    CONTRACT_SIGNING,
    LEASE_EXTENSION,
    ORDER_FULL_INFO,
    WITHHOLDING_SIGNING,
    LeaseAnswer,
    LeaseChannelPort,
    LeaseEventKind,
    LeaseRepositoryFactory,
)
from ports.storage import ConcurrentUpdate, DuplicateRequest, FlowLogSink, UnitOfWorkFactory

log = logging.getLogger("paygate.lease")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """How rent is collected: the pay method and business type its payments are routed by, the
    retry schedule of failed periods, and when the worker recovers what a crash left behind."""

    pay_method: str = "withholding"
    business_type: str = "lease"
    retry: RetrySchedule = RetrySchedule((3600, 21600, 86400, 172800, 345600))
    resync_after: timedelta = timedelta(seconds=60)
    resubmit_after: timedelta = timedelta(seconds=60)


def period_view(p: RentPeriod) -> dict[str, Any]:
    return {
        "no": p.no,
        "due_date": p.due_date.isoformat(),
        "amount": str(p.amount),
        "status": p.status.value,
        "attempts": p.attempts,
        "last_failure_code": p.last_failure_code,
        "last_failure_message": p.last_failure_message,
        "next_attempt_at": p.next_attempt_at.isoformat() if p.next_attempt_at else None,
        "payment_id": p.payment_id,
        "trade_no": p.trade_no,
        "paid_at": p.paid_at.isoformat() if p.paid_at else None,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def lease_view(o: LeaseOrder) -> dict[str, Any]:
    """A lease order as its caller sees it: the order, contract, agreement, plan, rent plan."""
    c, a, plan = o.contract, o.agreement, o.plan
    return {
        "id": o.id,
        "out_order_no": o.out_order_no,
        "status": o.status.value,
        "channel": o.channel,
        "channel_order_id": o.channel_order_id,
        "buyer_id": o.buyer_id,
        "title": o.title,
        "total_amount": str(o.total),
        "currency": o.total.currency,
        "period_count": len(o.periods),
        "paid_amount": str(o.paid),
        "outstanding_amount": str(o.outstanding),
        "contract": {
            "status": c.status.value,
            "template_id": c.template_id,
            "contract_no": c.contract_no,
            "sign_url": c.sign_url,
            "signers": [
                {"party": party, "sign_url": c.party_urls.get(party), "signed": party in c.signed_parties}
                for party in c.required_parties
            ],
            "signed_at": _iso(c.signed_at),
            "finalised_at": _iso(c.finalised_at),
            "failure_code": c.failure_code,
        },
        "agreement": {
            "status": a.status.value,
            "external_agreement_no": a.external_agreement_no,
            "agreement_no": a.agreement_no,
            "sign_url": a.sign_url,
            "signed_at": _iso(a.signed_at),
            "unsigned_at": _iso(a.unsigned_at),
            "unsign_reason": a.unsign_reason,
            "unsign_refusals": [r.to_json() for r in a.unsign_refusals],
        },
        "plan": {
            "status": plan.status.value,
            "cancel_reason": plan.cancel_reason.value if plan.cancel_reason else None,
            "cancel_note": plan.cancel_note,
            "cancelled_at": _iso(plan.cancelled_at),
        },
        "periods": [period_view(p) for p in o.periods],
        "closure": None
        if o.closure is None
        else {"reason": o.closure.reason, "basis": o.closure.basis, "at": o.closure.at.isoformat()},
        "failure": None if o.failure_code is None else {"code": o.failure_code, "message": o.failure_message},
        "created_at": o.created_at.isoformat(),
        "updated_at": o.updated_at.isoformat(),
    }


async def publish(uow: Any, order: LeaseOrder, event: str, at: datetime, **extra: Any) -> None:
    """`lease.<event>` to the caller app, from the transaction that made the change."""
    await uow.outbox.enqueue(
        order.app_id, f"lease.{event}", order.id, {"order": lease_view(order), **extra}, at=at
    )


def _found(order: LeaseOrder | None, order_id: str) -> LeaseOrder:
    if order is None:
        raise NotFound(f"lease order {order_id} does not exist", code="LEASE_ORDER_NOT_FOUND")
    return order


class Backoff:
    """The worker's wait before asking the channel again about one thing (a pre-order, a 落签,
    an attempt): after each failure it doubles from `first`, up to `most`. Kept in memory: a
    restart forgets it, which costs one early call, never a wrong one."""

    def __init__(self, first: timedelta, most: timedelta = timedelta(hours=1)) -> None:
        self.first = first
        self.most = most
        self._state: dict[str, tuple[int, datetime]] = {}

    def due(self, key: str, now: datetime) -> bool:
        state = self._state.get(key)
        return state is None or state[1] <= now

    def failed(self, key: str, now: datetime) -> None:
        failures = self._state.get(key, (0, now))[0] + 1
        wait = min(self.first * 2 ** (failures - 1), self.most)
        self._state[key] = (failures, now + wait)

    def succeeded(self, key: str) -> None:
        self._state.pop(key, None)


class LeasePaymentListener:
    """Moves a rent period with its deduction's payment, inside the payment's transaction:
    succeeded -> paid, failed -> failed (retried on the schedule), otherwise it stays
    collecting. Only the period's current attempt moves it."""

    def __init__(self, orders_of: LeaseRepositoryFactory, flow: FlowLogSink, policy: LeasePolicy) -> None:
        self.orders_of = orders_of
        self.flow = flow
        self.policy = policy

    async def __call__(self, uow: Any, payment: Payment) -> None:
        d = payment.details
        order_id, no, attempt = d.get("lease_order_id"), d.get("lease_period_no"), d.get("lease_attempt")
        if not isinstance(order_id, str) or not isinstance(no, int) or not isinstance(attempt, int):
            return  # not a rent deduction
        repo = self.orders_of(uow)
        current = await repo.get_for_update(order_id)
        if current is None:
            log.error("deduction of a missing lease order", extra={"payment_id": payment.id})
            return
        at = payment.updated_at
        if payment.status is PaymentStatus.SUCCEEDED:
            moved = current.attempt_paid(no, attempt, payment.id, payment.channel_ref, at)
        elif payment.status is PaymentStatus.FAILED:
            moved = current.attempt_failed(
                no,
                attempt,
                payment.id,
                payment.failure_code or "DEDUCTION_FAILED",
                payment.failure_message,
                at,
                self.policy.retry,
            )
        else:
            moved = current.attempt_pending(no, attempt, payment.id, at)
        if moved is current:
            return
        saved = await repo.save(moved, expected_version=current.version)
        period = saved.period(no)
        if period.status is PeriodStatus.PAID:
            await publish(uow, saved, "period_paid", at, period=period_view(period))
        elif period.status in (PeriodStatus.FAILED, PeriodStatus.CANCELLED):
            await publish(uow, saved, "period_failed", at, period=period_view(period))
        if period.status is not PeriodStatus.COLLECTING:
            self.flow.record(
                FlowRecord(
                    order_id,
                    FlowNode.CHANNEL_ANSWER,
                    FlowOutcome.OK if period.status is PeriodStatus.PAID else FlowOutcome.FAILED,
                    at,
                    f"period {no} attempt {attempt}: {period.status.value}",
                    {
                        "payment_id": payment.id,
                        "failure_code": period.last_failure_code,
                        "trade_no": period.trade_no,
                    },
                )
            )


class LeaseService:
    """Every operation on a lease order. Channel calls happen outside transactions; their
    results are applied to the locked order with a version check, so concurrent requests
    and repeated callbacks change it once."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        orders_of: LeaseRepositoryFactory,
        payments: PaymentService,
        flow: FlowLogSink,
        policy: LeasePolicy,
        *,
        reads: UnitOfWorkFactory | None = None,
        channel_timeout: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.reads = reads or uow
        self.orders_of = orders_of
        self.payments = payments
        self.flow = flow
        self.policy = policy
        self.channel_timeout = channel_timeout
        self.clock = clock
        self.finalising: set[str] = set()
        self.backoff = Backoff(policy.resync_after)

    # -- helpers ---------------------------------------------------------------------------
    def _record(
        self,
        order_id: str,
        node: FlowNode,
        message: str,
        outcome: FlowOutcome = FlowOutcome.OK,
        **detail: Any,
    ) -> None:
        self.flow.record(FlowRecord(order_id, node, outcome, self.clock(), message, detail))

    def _channel(self, code: str) -> Channel:
        channel = self.payments.channels.get(code)
        if channel is None:
            raise NoRoute(f"channel {code} is not installed", field="channel")
        return channel

    def _port(self, order: LeaseOrder) -> LeaseChannelPort:
        port = self._channel(order.channel).extensions.get(LEASE_EXTENSION)
        if not isinstance(port, LeaseChannelPort):
            raise NoRoute(f"channel {order.channel} offers no lease operations", field="channel")
        return port

    def _signing(self, order: LeaseOrder) -> SigningPort:
        signing = self._channel(order.channel).signing
        if signing is None:
            raise NoRoute(f"channel {order.channel} has no signing port", field="channel")
        return signing

    async def _ask(self, call: Awaitable[T], unknown: Callable[[str, str], T]) -> T:
        """A channel call with a timeout; a timeout or a crash of the call is `unknown`."""
        try:
            return await asyncio.wait_for(call, timeout=self.channel_timeout)
        except TimeoutError:
            return unknown("TIMEOUT", f"no answer within {self.channel_timeout}s")
        except Exception as exc:  # noqa: BLE001 - any failure of the call leaves the outcome unknown
            log.exception("lease channel call failed")
            return unknown("CHANNEL_ERROR", type(exc).__name__)

    async def _operate(self, order: LeaseOrder, operation: str, call: Awaitable[LeaseAnswer]) -> LeaseAnswer:
        """Run a lease operation, log it, keep its exchanges; raise on refusal or unknown."""
        self._record(
            order.id, FlowNode.CHANNEL_REQUEST, f"{operation} sent", FlowOutcome.PENDING, operation=operation
        )
        answer = await self._ask(call, lambda code, msg: LeaseAnswer(ChannelStatus.UNKNOWN, code, msg))
        await self._keep_exchanges(order, answer.exchanges)
        ok = answer.status is ChannelStatus.SUCCEEDED
        self._record(
            order.id,
            FlowNode.CHANNEL_ANSWER,
            f"{operation}: {answer.status.value}" + (f" {answer.code}" if answer.code else ""),
            FlowOutcome.OK if ok else FlowOutcome.FAILED,
            operation=operation,
            code=answer.code,
            channel_message=answer.message,
        )
        self._raise_unless_done(answer.status, answer.code, answer.message, operation)
        return answer

    @staticmethod
    def _raise_unless_done(
        status: ChannelStatus, code: str | None, message: str | None, operation: str
    ) -> None:
        if status is ChannelStatus.FAILED:
            raise ChannelRefused(
                f"the channel refused {operation}: {message or code}", code=code or "CHANNEL_REFUSED"
            )
        if status is ChannelStatus.UNKNOWN:
            raise ChannelOutcomeUnknown(
                f"{operation}: the channel's answer is not known ({code}); the operation may be repeated"
            )

    async def _keep_exchanges(self, order: LeaseOrder, exchanges: tuple[Exchange, ...]) -> None:
        if not exchanges:
            return
        async with self.uow() as uow:
            await uow.record_exchanges(order.id, order.channel, exchanges, at=self.clock())
            await uow.commit()

    async def _change(
        self,
        order_id: str,
        change: Callable[[LeaseOrder, datetime], LeaseOrder],
        event: Callable[[LeaseOrder, LeaseOrder], str | None] | None = None,
    ) -> LeaseOrder:
        """Apply `change` to the locked order and save it; publish `event(before, after)`."""
        for _ in range(3):
            now = self.clock()
            try:
                async with self.uow() as uow:
                    repo = self.orders_of(uow)
                    current = _found(await repo.get_for_update(order_id), order_id)
                    moved = change(current, now)
                    if moved is current:
                        return current
                    saved = await repo.save(moved, expected_version=current.version)
                    name = event(current, saved) if event is not None else None
                    if name is not None:
                        await publish(uow, saved, name, now)
                    await uow.commit()
                    return saved
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(order_id)

    # -- reading ---------------------------------------------------------------------------
    async def find(self, order_id: str) -> LeaseOrder | None:
        async with self.reads() as uow:
            return await self.orders_of(uow).get(order_id)

    async def get(self, order_id: str, app_id: str | None = None) -> LeaseOrder:
        """The order; with `app_id`, only if that app owns it (others' are a 404)."""
        order = await self.find(order_id)
        if order is not None and app_id is not None and order.app_id != app_id:
            order = None
        return _found(order, order_id)

    async def by_out_order_no(self, app_id: str, out_order_no: str) -> LeaseOrder:
        async with self.reads() as uow:
            order = await self.orders_of(uow).by_out_order_no(app_id, out_order_no)
        if order is None:
            raise NotFound(f"no lease order with out_order_no {out_order_no!r}", code="LEASE_ORDER_NOT_FOUND")
        return order

    async def channel_info(self, order_id: str, app_id: str) -> dict[str, Any]:
        """查询订单信息: the channel's view of the order (query type orderFullInfo)."""
        order = await self.get(order_id, app_id)
        if order.status is OrderStatus.CREATED or order.status is OrderStatus.SYNC_FAILED:
            raise LeaseStateConflict(
                f"the order is {order.status.value}: the channel does not hold it", field="status"
            )
        port = self._port(order)
        answer = await self._operate(order, "query order", port.query_order(order, ORDER_FULL_INFO))
        return {
            "order_id": order.id,
            "query_type": ORDER_FULL_INFO,
            "channel": order.channel,
            "info": dict(answer.data),
        }

    # -- 同步前置订单 ------------------------------------------------------------------------
    async def create(self, app_id: str, body: LeaseOrderBody) -> tuple[LeaseOrder, bool]:
        """Store the pre-order, then sync it to the channel. A repeat of the same body answers
        the stored order (and syncs it again if the channel never confirmed it)."""
        request = check_order(body)
        request_hash = request_fingerprint(request.canonical())
        async with self.reads() as uow:
            existing = await self.orders_of(uow).by_out_order_no(app_id, request.out_order_no)
        if existing is not None:
            return await self._repeat(existing, request_hash), False
        decision = self.payments.router.select(
            RouteRequest(
                self.policy.pay_method,
                request.total.decimal,
                request.total.currency,
                None,
                self.policy.business_type,
            )
        )
        channel = self._channel(decision.channel)
        if (
            not isinstance(channel.extensions.get(LEASE_EXTENSION), LeaseChannelPort)
            or channel.signing is None
        ):
            raise NoRoute(
                f"pay method {self.policy.pay_method!r} routes to {channel.code}, "
                "which offers no lease operations",
                field="pay_method",
            )
        now = self.clock()
        order = LeaseOrder.new(new_id("lse"), app_id, request, request_hash, channel.code, now)
        try:
            async with self.uow() as uow:
                await self.orders_of(uow).add(order)
                await uow.commit()
        except DuplicateRequest:
            async with self.reads() as uow:
                winner = await self.orders_of(uow).by_out_order_no(app_id, request.out_order_no)
            assert winner is not None, "a duplicate insert implies a stored order"
            return await self._repeat(winner, request_hash), False
        self._record(
            order.id,
            FlowNode.ACCEPTED,
            "lease order received",
            out_order_no=order.out_order_no,
            periods=len(order.periods),
            total=str(order.total),
            channel=channel.code,
        )
        return await self.sync(order.id), True

    async def _repeat(self, existing: LeaseOrder, request_hash: str) -> LeaseOrder:
        if existing.request_hash != request_hash:
            raise IdempotencyConflict(
                f"out_order_no {existing.out_order_no!r} was already used with another order",
                field="out_order_no",
            )
        if existing.status is OrderStatus.CREATED:
            return await self.sync(existing.id)
        return existing

    async def sync(self, order_id: str) -> LeaseOrder:
        """Send the pre-order (idempotent at the channel on our order id). An unknown answer
        leaves it `created`: the worker, or a repeated request, sends it again."""
        order = await self.get(order_id)
        if order.status is not OrderStatus.CREATED:
            return order
        try:
            answer = await self._operate(order, "sync pre-order", self._port(order).sync_order(order))
        except ChannelRefused as exc:
            refused = exc
            return await self._change(order_id, lambda o, at: _sync_failed(o, refused, at))
        except ChannelOutcomeUnknown:
            return order
        channel_order_id = answer.data.get("channel_order_id")
        return await self._change(
            order_id, lambda o, at: o.synced(str(channel_order_id) if channel_order_id else None, at)
        )

    # -- 前置合同签署 ------------------------------------------------------------------------
    async def start_contract_signing(self, order_id: str, app_id: str, template_id: str) -> LeaseOrder:
        """The channel's signing URL(s) of the contract made from `template_id` for this order."""
        order = await self.get(order_id, app_id)
        order.check_contract_signing()
        request = SigningRequest(
            order.id,
            app_id,
            CONTRACT_SIGNING,
            {
                "template_id": template_id,
                "channel_order_id": order.channel_order_id,
                "buyer_id": order.buyer_id,
            },
        )
        result = await self._sign(order, "contract signing", self._signing(order).start_signing(request))
        contract_no = result.agreement_ref or ""
        signers = [s for s in result.raw.get("signers") or () if isinstance(s, dict)]
        party_urls = {str(s["party"]): str(s["sign_url"]) for s in signers}
        parties = list(party_urls) or ["lessee"]
        return await self._change(
            order_id,
            lambda o, at: (
                o
                if o.contract.status is ContractStatus.SIGNING and o.contract.contract_no == contract_no
                else o.contract_signing(template_id, contract_no, result.sign_url, party_urls, parties, at)
            ),
        )

    async def _sign(self, order: LeaseOrder, operation: str, call: Awaitable[SigningResult]) -> SigningResult:
        self._record(
            order.id, FlowNode.CHANNEL_REQUEST, f"{operation} sent", FlowOutcome.PENDING, operation=operation
        )
        result = await self._ask(
            call, lambda code, msg: SigningResult(ChannelStatus.UNKNOWN, code=code, message=msg)
        )
        await self._keep_exchanges(order, result.exchanges)
        self._record(
            order.id,
            FlowNode.CHANNEL_ANSWER,
            f"{operation}: {result.status.value}" + (f" {result.code}" if result.code else ""),
            FlowOutcome.FAILED if result.status is ChannelStatus.FAILED else FlowOutcome.OK,
            operation=operation,
            code=result.code,
            reference=result.agreement_ref,
        )
        self._raise_unless_done(
            ChannelStatus.SUCCEEDED if result.status is ChannelStatus.PROCESSING else result.status,
            result.code,
            result.message,
            operation,
        )
        return result

    # -- 代扣签约 ----------------------------------------------------------------------------
    async def start_withholding_signing(
        self, order_id: str, app_id: str, return_url: str | None = None
    ) -> LeaseOrder:
        """A new withholding signing: the URL (alipay.user.agreement.page.sign) the user
        confirms. A signing already under way is asked about first, so an agreement the user
        signed is never signed twice."""
        order = await self.get(order_id, app_id)
        if order.agreement.status is AgreementStatus.SIGNING:
            order, _ = await self.query_withholding(order_id, app_id)
        order.check_agreement_signing()
        attempt, external_no = order.next_agreement_attempt()
        request = SigningRequest(
            order.id,
            app_id,
            WITHHOLDING_SIGNING,
            {"external_agreement_no": external_no, "buyer_id": order.buyer_id, "return_url": return_url},
        )
        result = await self._sign(order, "withholding signing", self._signing(order).start_signing(request))
        url = result.sign_url or ""
        return await self._change(
            order_id,
            lambda o, at: o if o.agreement.attempt >= attempt else o.agreement_signing(attempt, url, at),
        )

    async def query_withholding(self, order_id: str, app_id: str) -> tuple[LeaseOrder, dict[str, Any]]:
        """查询代扣签约: asks the channel (alipay.user.agreement.query); a signature the
        notification has not brought yet is applied here."""
        order = await self.get(order_id, app_id)
        a = order.agreement
        if a.external_agreement_no is None:
            raise LeaseStateConflict("no withholding signing was started for this order", field="agreement")
        request = SigningRequest(
            order.id,
            app_id,
            WITHHOLDING_SIGNING,
            {
                "external_agreement_no": a.external_agreement_no,
                "agreement_no": a.agreement_no,
                "buyer_id": order.buyer_id,
            },
        )
        self._record(order.id, FlowNode.CHANNEL_REQUEST, "withholding query sent", FlowOutcome.PENDING)
        result = await self._ask(
            self._signing(order).query_signing(request),
            lambda code, msg: SigningResult(ChannelStatus.UNKNOWN, code=code, message=msg),
        )
        await self._keep_exchanges(order, result.exchanges)
        self._record(
            order.id,
            FlowNode.QUERY_ANSWER,
            f"withholding query: {result.status.value}" + (f" {result.code}" if result.code else ""),
            FlowOutcome.OK if result.status is ChannelStatus.SUCCEEDED else FlowOutcome.PENDING,
            code=result.code,
            agreement_no=result.agreement_ref,
        )
        if (
            result.status is ChannelStatus.SUCCEEDED
            and result.agreement_ref
            and a.status is AgreementStatus.SIGNING
        ):
            order = await self._agreement_signed(
                order.id, a.external_agreement_no, result.agreement_ref, order.buyer_id, "query"
            )
        answer = {
            "status": result.status.value,
            "code": result.code,
            "agreement_no": result.agreement_ref,
            "detail": {k: v for k, v in result.raw.items() if v is not None},
        }
        return order, answer

    async def _agreement_signed(
        self, order_id: str, external_no: str, agreement_no: str, user_id: str | None, via: str
    ) -> LeaseOrder:
        order = await self._change(
            order_id,
            lambda o, at: o.agreement_signed(external_no, agreement_no, user_id, at),
            lambda before, after: (
                "agreement_signed" if before.agreement.status is not AgreementStatus.SIGNED else None
            ),
        )
        self._record(
            order_id, FlowNode.NOTIFIED, f"withholding agreement signed ({via})", agreement_no=agreement_no
        )
        return await self._finalise_if_ready(order)

    async def unsign(self, order_id: str, app_id: str, reason: str) -> LeaseOrder:
        """解除代扣 (alipay.user.agreement.unsign); repeating it is harmless."""
        order = await self.get(order_id, app_id)
        if order.agreement.status is AgreementStatus.UNSIGNED:
            return order
        order.check_unsign()
        await self._operate(order, "unsign", self._port(order).unsign_agreement(order, reason))
        return await self._change(
            order_id,
            lambda o, at: o.agreement_unsigned(o.agreement.agreement_no, reason, at),
            lambda before, after: (
                "agreement_unsigned"
                if after.agreement.status is AgreementStatus.UNSIGNED
                and before.agreement.status is not after.agreement.status
                else None
            ),
        )

    async def cancel_plan(self, order_id: str, app_id: str, reason: CancelReason, note: str) -> LeaseOrder:
        """取消代扣计划 with a reason: the unpaid periods are never collected. Repeating it with
        the same reason is harmless."""
        order = await self.get(order_id, app_id)
        if order.plan.status is PlanStatus.CANCELLED and order.plan.cancel_reason is reason:
            return order
        order.check_plan_cancel()
        await self._operate(order, "cancel plan", self._port(order).cancel_plan(order, reason, note))
        return await self._change(
            order_id,
            lambda o, at: o if o.plan.status is PlanStatus.CANCELLED else o.plan_cancelled(reason, note, at),
            lambda before, after: "plan_cancelled" if before.plan.status is not after.plan.status else None,
        )

    async def refuse_async_unsign(
        self,
        order_id: str,
        app_id: str,
        operation: AsyncUnsignOperation,
        service_user: str,
        user_debt: Money,
        reason: str,
    ) -> LeaseOrder:
        """异步解约确认: refuse the user's unsign request (operation REFUSE, the serving user,
        the user's outstanding debt, the reason); the agreement stays in force."""
        order = await self.get(order_id, app_id)
        order.check_unsign()
        refusal = UnsignRefusal(operation, service_user, user_debt, reason, self.clock())
        await self._operate(
            order, "async unsign confirmation", self._port(order).confirm_async_unsign(order, refusal)
        )
        return await self._change(order_id, lambda o, at: o.unsign_refused(refusal))

    async def close(self, order_id: str, app_id: str, reason: str) -> LeaseOrder:
        """关闭订单, only on the seed's preconditions (checked before the channel is asked, and
        again on the locked order). Closing a closed order is harmless."""
        order = await self.get(order_id, app_id)
        if order.status is OrderStatus.CLOSED:
            return order
        order.check_close()
        await self._operate(order, "close order", self._port(order).close_order(order, reason))
        closed = await self._change(
            order_id,
            lambda o, at: o if o.status is OrderStatus.CLOSED else o.closed(reason, at),
            lambda before, after: "order_closed" if before.status is not after.status else None,
        )
        self._record(
            order_id, FlowNode.FINAL_STATE, f"closed: {reason}", basis=closed.closure and closed.closure.basis
        )
        return closed

    # -- 落签 --------------------------------------------------------------------------------
    async def _finalise_if_ready(self, order: LeaseOrder) -> LeaseOrder:
        if not order.ready_to_finalise:
            return order
        try:
            return await self.finalise(order.id)
        except DomainError as exc:
            log.warning("contract not finalised yet", extra={"order_id": order.id, "code": exc.code})
            return await self.get(order.id)

    async def finalise(self, order_id: str) -> LeaseOrder:
        """Seal the signed contract now that the withholding agreement is signed."""
        order = await self.get(order_id)
        if not order.ready_to_finalise or order_id in self.finalising:
            return order
        self.finalising.add(order_id)
        try:
            await self._operate(order, "finalise contract", self._port(order).finalise_contract(order))
            return await self._change(
                order_id,
                lambda o, at: o.contract_finalised(at) if o.ready_to_finalise else o,
                lambda before, after: (
                    "contract_finalised"
                    if after.contract.status is ContractStatus.FINALISED
                    and before.contract.status is not after.contract.status
                    else None
                ),
            )
        finally:
            self.finalising.discard(order_id)

    # -- the channel's callbacks -------------------------------------------------------------
    async def on_channel_event(self, channel: str, event: ChannelEvent) -> bool:
        """Apply a verified lease callback; repeats and callbacks about unknown orders change
        nothing (they are acknowledged, so the channel stops repeating them)."""
        try:
            kind = LeaseEventKind(event.kind)
        except ValueError:
            return False
        data = event.data
        if kind is LeaseEventKind.CONTRACT_SIGNATURE:
            order_id = str(data.get("order_id") or "")
        else:
            owner = order_of_external_agreement_no(str(data.get("external_agreement_no") or ""))
            order_id = owner[0] if owner else ""
        order = await self.find(order_id) if order_id else None
        if order is None or order.channel != channel:
            log.warning(
                "lease callback about an unknown order", extra={"channel": channel, "kind": kind.value}
            )
            return True
        if kind is LeaseEventKind.AGREEMENT_SIGNED:
            await self._agreement_signed(
                order.id,
                str(data["external_agreement_no"]),
                str(data.get("agreement_no") or ""),
                data.get("alipay_user_id"),
                "notification",
            )
        elif kind is LeaseEventKind.AGREEMENT_UNSIGNED:
            await self._change(
                order.id,
                lambda o, at: o.agreement_unsigned(data.get("agreement_no"), "unsigned at the channel", at),
                lambda before, after: (
                    "agreement_unsigned" if before.agreement.status is not after.agreement.status else None
                ),
            )
            self._record(order.id, FlowNode.NOTIFIED, "withholding agreement unsigned (notification)")
        else:
            await self._contract_signature(order, data)
        return True

    async def _contract_signature(self, order: LeaseOrder, data: Any) -> None:
        contract_no, party, status = (
            str(data.get("contract_no")),
            str(data.get("party")),
            str(data.get("status")),
        )
        if status == "signed":
            updated = await self._change(
                order.id,
                lambda o, at: o.contract_party_signed(contract_no, party, at),
                lambda before, after: (
                    "contract_signed"
                    if after.contract.status is ContractStatus.SIGNED
                    and before.contract.status is not after.contract.status
                    else None
                ),
            )
            self._record(order.id, FlowNode.NOTIFIED, f"contract {contract_no} signed by {party}")
            await self._finalise_if_ready(updated)
            return
        target = ContractStatus.EXPIRED if status == "expired" else ContractStatus.REFUSED
        await self._change(
            order.id,
            lambda o, at: o.contract_sign_failed(contract_no, target, status.upper(), at),
            lambda before, after: (
                "contract_sign_failed" if before.contract.status is not after.contract.status else None
            ),
        )
        self._record(
            order.id,
            FlowNode.NOTIFIED,
            f"contract {contract_no}: {party} {status}",
            FlowOutcome.FAILED,
            party=party,
        )

    # -- rent collection (代扣) -------------------------------------------------------------
    async def collect_due(self, limit: int, now: datetime | None = None) -> int:
        """Start an attempt for every period due by `now`: pending periods from their due
        date, failed ones from their retry time. Returns how many attempts were started."""
        now = now or self.clock()
        async with self.reads() as uow:
            order_ids = await self.orders_of(uow).with_due_periods(now, limit)
        started = 0
        for order_id in order_ids:
            order = await self.find(order_id)
            for period in order.due_periods(now) if order else ():
                try:
                    if await self._collect(order_id, period.no, now):
                        started += 1
                except Exception:
                    log.exception("rent collection failed", extra={"order_id": order_id, "period": period.no})
        return started

    async def _collect(self, order_id: str, no: int, now: datetime) -> bool:
        try:
            async with self.uow() as uow:
                repo = self.orders_of(uow)
                current = await repo.get_for_update(order_id)
                if current is None or no not in [p.no for p in current.due_periods(now)]:
                    return False  # collected meanwhile, or no longer collectable
                moved, period = current.start_attempt(no, now)
                order = await repo.save(moved, expected_version=current.version)
                await uow.commit()
        except ConcurrentUpdate:
            return False  # another worker took it: never two live attempts
        await self._submit_attempt(order, period)
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
        )

    async def _submit_attempt(self, order: LeaseOrder, period: RentPeriod) -> None:
        cmd = self.attempt_command(order, period)
        self._record(
            order.id,
            FlowNode.CHANNEL_REQUEST,
            f"deduction of period {period.no}, attempt {period.attempts}",
            FlowOutcome.PENDING,
            out_request_no=cmd.out_request_no,
            amount=str(period.amount),
        )
        try:
            await self.payments.submit(cmd)
        except DomainError as exc:
            await self._attempt_refused(order, period, exc)

    async def _attempt_refused(self, order: LeaseOrder, period: RentPeriod, exc: DomainError) -> None:
        """No payment could be made (no route, over the limit): nothing was withheld."""
        async with self.reads() as uow:
            cmd = self.attempt_command(order, period)
            if await uow.payments.by_request_no(order.app_id, cmd.out_request_no) is not None:
                raise exc  # a payment exists: its outcome, not this error, decides
        await self._change(
            order.id,
            lambda o, at: o.attempt_failed(
                period.no, period.attempts, None, exc.code, exc.message, at, self.policy.retry
            ),
            lambda before, after: (
                "period_failed" if after.period(period.no).status is not PeriodStatus.COLLECTING else None
            ),
        )

    # -- the worker's round ------------------------------------------------------------------
    async def run_once(self, limit: int, now: datetime | None = None) -> int:
        """Collect what is due, and continue what a crash or an unknown answer left behind:
        pre-orders never confirmed, contracts waiting for 落签, attempts never submitted.
        A channel that keeps failing one of these is asked again after a growing wait."""
        now = now or self.clock()
        done = await self.collect_due(limit, now)
        async with self.reads() as uow:
            repo = self.orders_of(uow)
            unsynced = await repo.unsynced(now - self.policy.resync_after, limit)
            to_finalise = await repo.ready_to_finalise(limit)
            stale = await repo.stale_attempts(now - self.policy.resubmit_after, limit)
        for order_id in unsynced:
            done += await self._retried(
                f"sync/{order_id}", now, self.sync(order_id), lambda o: o.status is not OrderStatus.CREATED
            )
        for order_id in to_finalise:
            done += await self._retried(
                f"finalise/{order_id}",
                now,
                self.finalise(order_id),
                lambda o: o.contract.status is ContractStatus.FINALISED,
            )
        for attempt in stale:
            done += await self._retried(
                f"attempt/{attempt.order_id}/{attempt.period_no}/{attempt.attempt}",
                now,
                self._recover_attempt(attempt.order_id, attempt.period_no, attempt.attempt),
                _resolved(attempt.period_no),
            )
        return done

    async def _retried(
        self,
        key: str,
        now: datetime,
        step: Coroutine[Any, Any, LeaseOrder],
        done: Callable[[LeaseOrder], bool],
    ) -> int:
        if not self.backoff.due(key, now):
            step.close()  # never awaited: nothing is sent
            return 0
        try:
            order = await step
        except Exception:
            log.exception("lease worker step failed", extra={"step": key})
            self.backoff.failed(key, now)
            return 0
        if done(order):
            self.backoff.succeeded(key)
            return 1
        self.backoff.failed(key, now)
        return 0

    async def _recover_attempt(self, order_id: str, no: int, attempt: int) -> LeaseOrder:
        """An attempt left collecting: submit it if its payment was never saved (a crash
        between the two); a saved payment is resolved by the query poller, never resent."""
        order = await self.get(order_id)
        period = order.period(no)
        if period.status is not PeriodStatus.COLLECTING or period.attempts != attempt:
            return order
        cmd = self.attempt_command(order, period)
        async with self.reads() as uow:
            payment = await uow.payments.by_request_no(order.app_id, cmd.out_request_no)
        if payment is None:
            await self._submit_attempt(order, period)
        return order


def _resolved(no: int) -> Callable[[LeaseOrder], bool]:
    """Whether period `no` has left collecting (its attempt was answered)."""
    return lambda order: order.period(no).status is not PeriodStatus.COLLECTING


def _sync_failed(order: LeaseOrder, refused: ChannelRefused, at: datetime) -> LeaseOrder:
    if order.status is not OrderStatus.CREATED:
        return order
    return order.sync_failed(refused.code, refused.message, at)

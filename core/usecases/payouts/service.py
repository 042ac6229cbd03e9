"""The payout service: reading payouts, applying for them, finance review and paying."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from core.errors import (
    BusinessRuleViolation,
    DomainError,
    IllegalTransition,
    InvalidArgument,
    NoRoute,
    NotFound,
)
from core.flowlog import FlowNode, FlowOutcome, FlowRecord
from core.ids import new_id, utcnow
from core.payouts.checks import ItemCode, ItemProblem, check_item
from core.payouts.model import (
    Payout,
    PayoutApplication,
    PayoutStatus,
    Review,
    payment_out_request_no,
)
from core.routing import RouteRequest
from core.usecases.payments import PaymentCommand, PaymentService
from core.usecases.payouts.intake import ItemOutcome, PayoutBatch
from core.usecases.payouts.listener import publish_result
from ports.payouts import PayoutRepositoryFactory
from ports.storage import ConcurrentUpdate, DuplicateRequest, FlowLogSink, UnitOfWorkFactory

# The business type a payout's payment is routed with: rules may send payouts' bank transfers
# to another channel than other bank payments (`business_type = "payout"` in a rule).
PAYOUT_BUSINESS_TYPE = "payout"


def _found(payout: Payout | None, payout_id: str) -> Payout:
    if payout is None:
        raise NotFound(f"payout {payout_id} does not exist", code="PAYOUT_NOT_FOUND")
    return payout


class PayoutService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        payouts_of: PayoutRepositoryFactory,
        payments: PaymentService,
        flow: FlowLogSink,
        *,
        reads: UnitOfWorkFactory | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.uow = uow
        self.reads = reads or uow
        self.payouts_of = payouts_of
        self.payments = payments
        self.flow = flow
        self.clock = clock

    def _record(
        self,
        subject: str,
        node: FlowNode,
        message: str,
        outcome: FlowOutcome = FlowOutcome.OK,
        actor: str | None = None,
        **detail: Any,
    ) -> None:
        self.flow.record(FlowRecord(subject, node, outcome, self.clock(), message, detail, actor))

    # -- reading ---------------------------------------------------------------------------
    async def find(self, payout_id: str) -> Payout | None:
        async with self.reads() as uow:
            return await self.payouts_of(uow).get(payout_id)

    async def get(self, payout_id: str, app_id: str | None = None) -> Payout:
        """The payout; with `app_id`, only if that app applied for it (others' are a 404)."""
        payout = await self.find(payout_id)
        if payout is not None and app_id is not None and payout.app_id != app_id:
            payout = None  # another app's payout does not exist for this one
        return _found(payout, payout_id)

    async def by_serial_no(self, app_id: str, serial_no: str) -> Payout:
        async with self.reads() as uow:
            payout = await self.payouts_of(uow).by_serial_no(app_id, serial_no)
        if payout is None:
            raise NotFound(f"no payout with serial_no {serial_no!r}", code="PAYOUT_NOT_FOUND")
        return payout

    # -- applying --------------------------------------------------------------------------
    async def apply(self, batch: PayoutBatch) -> list[ItemOutcome]:
        """Check and store every item on its own; one bad item never blocks the others."""
        return [await self._apply_item(batch, i, raw) for i, raw in enumerate(batch.items)]

    async def _apply_item(self, batch: PayoutBatch, index: int, raw: object) -> ItemOutcome:
        given = raw.get("serial_no") if isinstance(raw, Mapping) else None
        serial_no = given if isinstance(given, str) else None
        checked = check_item(raw)
        if isinstance(checked, ItemProblem):
            return ItemOutcome(index, serial_no, problem=checked)
        request_hash = checked.fingerprint()
        async with self.reads() as uow:
            existing = await self.payouts_of(uow).by_serial_no(batch.app_id, checked.serial_no)
        if existing is not None:
            return self._repeat(index, existing, request_hash)
        problem = self._payable(checked)
        if problem is not None:
            return ItemOutcome(index, serial_no, problem=problem)
        now = self.clock()
        payout = Payout(
            id=new_id("pyt"),
            app_id=batch.app_id,
            application=checked,
            request_hash=request_hash,
            status=PayoutStatus.PENDING_REVIEW,
            created_at=now,
            updated_at=now,
            source_platform=batch.source_platform,
            trace_id=batch.trace_id,
        )
        try:
            async with self.uow() as uow:
                await self.payouts_of(uow).add(payout)
                await uow.commit()
        except DuplicateRequest:
            # a concurrent application of the same serial number won the insert
            async with self.reads() as uow:
                winner = await self.payouts_of(uow).by_serial_no(batch.app_id, checked.serial_no)
            assert winner is not None, "a duplicate insert implies a stored payout"
            return self._repeat(index, winner, request_hash)
        self._record(
            payout.id,
            FlowNode.ACCEPTED,
            "payout applied",
            app_id=batch.app_id,
            serial_no=checked.serial_no,
            trace_id=batch.trace_id,
            source_platform=batch.source_platform,
        )
        self._record(payout.id, FlowNode.VALIDATED, "checks passed; waiting for finance review")
        return ItemOutcome(index, checked.serial_no, payout, created=True)

    @staticmethod
    def _repeat(index: int, existing: Payout, request_hash: str) -> ItemOutcome:
        if existing.request_hash != request_hash:
            return ItemOutcome(
                index,
                existing.serial_no,
                problem=ItemProblem(
                    ItemCode.IDEMPOTENCY_CONFLICT,
                    f"serial_no {existing.serial_no!r} was already used with a different item",
                    "serial_no",
                ),
            )
        return ItemOutcome(index, existing.serial_no, existing, created=False)

    def _payable(self, a: PayoutApplication) -> ItemProblem | None:
        """Refuse now what could not be paid after review: over the limit, or no channel."""
        limit = self.payments.max_amounts.get(a.amount.currency)
        if limit is not None and a.amount.decimal > limit:
            return ItemProblem(
                ItemCode.AMOUNT_LIMIT_EXCEEDED,
                f"amount {a.amount} exceeds the single-payment limit {limit} {a.amount.currency}",
                "amount",
            )
        try:
            self.payments.explain(
                RouteRequest(
                    a.pay_method.value, a.amount.decimal, a.amount.currency, None, PAYOUT_BUSINESS_TYPE
                )
            )
        except NoRoute as exc:
            return ItemProblem(ItemCode.NO_ROUTE, exc.message, "ext.pay_method")
        return None

    # -- finance review --------------------------------------------------------------------
    async def approve(
        self, payout_id: str, *, reviewer: str, operator: str | None = None, note: str | None = None
    ) -> Payout:
        """Approve and pay. Approving again is harmless (and resumes an approval whose payment
        was never submitted); approving a rejected payout is an illegal transition."""
        for _ in range(3):
            now = self.clock()
            try:
                async with self.uow() as uow:
                    repo = self.payouts_of(uow)
                    current = _found(await repo.get_for_update(payout_id), payout_id)
                    if current.status is PayoutStatus.REJECTED:
                        raise IllegalTransition(
                            f"payout {payout_id} was rejected; it can never be approved", field="status"
                        )
                    if current.status is not PayoutStatus.PENDING_REVIEW:
                        approved = current
                        break
                    review = Review("approved", reviewer, now, operator, note)
                    approved = current.moved(PayoutStatus.APPROVED, now, review=review)
                    await repo.save(approved, expected_status=PayoutStatus.PENDING_REVIEW)
                    await uow.commit()
            except ConcurrentUpdate:
                continue
            self._record(
                payout_id,
                FlowNode.REVIEW,
                "approved by finance",
                actor=reviewer,
                decision="approved",
                operator=operator,
                note=note,
            )
            break
        else:
            raise ConcurrentUpdate(payout_id)
        if approved.status is PayoutStatus.APPROVED:
            return await self._pay(approved)
        return approved

    async def reject(
        self, payout_id: str, *, reviewer: str, reason: str, operator: str | None = None
    ) -> Payout:
        """Refuse a payout waiting for review; the caller is told. Rejecting again is harmless;
        a payout already approved can no longer be rejected."""
        now = self.clock()
        async with self.uow() as uow:
            repo = self.payouts_of(uow)
            current = _found(await repo.get_for_update(payout_id), payout_id)
            if current.status is PayoutStatus.REJECTED:
                return current
            if current.status is not PayoutStatus.PENDING_REVIEW:
                raise IllegalTransition(
                    f"payout {payout_id} is {current.status.value}; only a payout waiting for "
                    "review can be rejected",
                    field="status",
                )
            rejected = current.moved(
                PayoutStatus.REJECTED,
                now,
                review=Review("rejected", reviewer, now, operator, reason),
                failure_code="REJECTED",
                failure_message=reason,
            )
            await repo.save(rejected, expected_status=PayoutStatus.PENDING_REVIEW)
            await publish_result(uow, rejected, now)
            await uow.commit()
        self._record(
            payout_id,
            FlowNode.REVIEW,
            f"rejected by finance: {reason}",
            FlowOutcome.FAILED,
            actor=reviewer,
            decision="rejected",
            operator=operator,
            note=reason,
        )
        return rejected

    # -- paying ----------------------------------------------------------------------------
    def command(self, p: Payout) -> PaymentCommand:
        """The payout's one payment. Its out_request_no (hence its id, Alipay's out_biz_no) is
        fixed by the payout, so however often it is submitted, it pays once."""
        a = p.application
        canonical = a.canonical()
        details: dict[str, Any] = {
            "payout_id": p.id,
            "serial_no": a.serial_no,
            "order_serial_no": a.order_serial_no,
            "payee_name": a.payee_name,
            "business_type": a.business_type.value,
            "payout_type": int(a.type),
            "remark": a.reason,
            "notify": False,  # the caller hears of the payout (payout.*), not of the payment
        }
        if a.bank is not None:
            details["bank"] = canonical["bank"]
            details["account_type"] = "1" if a.business_type.value == "B" else "2"
            details["payee_bank_name"] = a.bank.branch
        return PaymentCommand(
            app_id=p.app_id,
            out_request_no=payment_out_request_no(p.id),
            request_hash=p.request_hash,
            pay_method=a.pay_method.value,
            amount=a.amount,
            payer_account=None,
            payee_account=a.payee_account,
            business_type=PAYOUT_BUSINESS_TYPE,
            memo=a.reason[:256],
            details={k: v for k, v in details.items() if v is not None},
        )

    async def _pay(self, p: Payout) -> Payout:
        try:
            await self.payments.submit(self.command(p))
        except (BusinessRuleViolation, InvalidArgument) as exc:
            # refused before a payment existed (no route, over the limit): nothing was sent
            return await self._fail_unpaid(p, exc)
        return await self.get(p.id)  # the listener moved it with its payment

    async def _fail_unpaid(self, p: Payout, exc: DomainError) -> Payout:
        now = self.clock()
        async with self.uow() as uow:
            if await uow.payments.by_request_no(p.app_id, payment_out_request_no(p.id)) is not None:
                raise exc  # a payment exists: its outcome, not this error, decides
            repo = self.payouts_of(uow)
            current = await repo.get_for_update(p.id)
            if current is None or current.status is not PayoutStatus.APPROVED:
                return current or p
            failed = current.moved(
                PayoutStatus.FAILED, now, failure_code=exc.code, failure_message=exc.message
            )
            await repo.save(failed, expected_status=PayoutStatus.APPROVED)
            await publish_result(uow, failed, now)
            await uow.commit()
        self._record(
            p.id, FlowNode.FINAL_STATE, f"not paid: {exc.message}", FlowOutcome.FAILED, code=exc.code
        )
        return failed

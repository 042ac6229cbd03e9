"""Finance review (财务审核): approving a payout (the payout worker then pays it: no reviewer's
request waits on the channel) or rejecting it."""

from __future__ import annotations

from core.errors import IllegalTransition
from core.flowlog import FlowNode, FlowOutcome
from core.payouts.model import Payout, PayoutStatus, Review
from core.usecases.payouts.context import PayoutContext, found
from core.usecases.payouts.results import save_move
from core.usecases.shared.conflicts import retry_on_conflict


async def approve(
    ctx: PayoutContext, payout_id: str, *, reviewer: str, operator: str | None = None, note: str | None = None
) -> Payout:
    """Approve; the payout worker (woken here) submits its payment, off this request. Approving
    again is harmless; approving a rejected payout is an illegal transition."""
    review = Review("approved", reviewer, ctx.clock(), operator, note)
    approved, decided = await retry_on_conflict(lambda: _approve_once(ctx, payout_id, review), payout_id)
    if decided:
        ctx.record(
            payout_id,
            FlowNode.REVIEW,
            "approved by finance",
            actor=reviewer,
            decision="approved",
            operator=operator,
            note=note,
        )
    if approved.status is PayoutStatus.APPROVED:
        ctx.to_pay.set()
    return approved


async def _approve_once(ctx: PayoutContext, payout_id: str, review: Review) -> tuple[Payout, bool]:
    """The payout approved by `review` (True), or as it was when no longer waiting for review
    (False). Raises ConcurrentUpdate when it changed between read and write."""
    async with ctx.uow() as uow:
        repo = uow.payouts
        current = found(await repo.get_for_update(payout_id), payout_id)
        if current.status is PayoutStatus.REJECTED:
            raise IllegalTransition(
                f"payout {payout_id} was rejected; it can never be approved", field="status"
            )
        if current.status is not PayoutStatus.PENDING_REVIEW:
            return current, False
        approved = current.moved(PayoutStatus.APPROVED, review.at, review=review)
        await save_move(uow, repo, approved, expected_status=PayoutStatus.PENDING_REVIEW)
        await uow.commit()
    return approved, True


async def reject(
    ctx: PayoutContext, payout_id: str, *, reviewer: str, reason: str, operator: str | None = None
) -> Payout:
    """Refuse a payout waiting for review; the caller is told. Rejecting again is harmless;
    a payout already approved can no longer be rejected."""
    now = ctx.clock()
    async with ctx.uow() as uow:
        repo = uow.payouts
        current = found(await repo.get_for_update(payout_id), payout_id)
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
        await save_move(uow, repo, rejected, expected_status=PayoutStatus.PENDING_REVIEW)
        await uow.commit()
    ctx.record(
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

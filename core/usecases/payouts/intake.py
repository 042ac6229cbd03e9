"""Applying for payouts: a batch of items, each checked and stored on its own, idempotent per
the caller's serial number."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import NoRoute
from core.flowlog import FlowNode
from core.ids import new_id
from core.payments.routing import PayMethodNotAllowed, RouteRequest
from core.payouts.checks import ItemCode, ItemProblem, check_item
from core.payouts.model import Payout, PayoutApplication, PayoutStatus
from core.usecases.payouts.context import PayoutContext
from core.usecases.payouts.payment import PAYOUT_BUSINESS_TYPE
from core.usecases.payouts.reading import find_by_serial_no
from ports.storage import DuplicateRequest


@dataclass(frozen=True, slots=True)
class PayoutBatch:
    """A payout application (OutwardPayRequest): the caller app is its projectAuthId."""

    app_id: str
    trace_id: str | None
    items: Sequence[object]
    source_platform: str | None = None


@dataclass(frozen=True, slots=True)
class ItemOutcome:
    """The answer for one item: accepted (with the payout, new or repeated) or rejected."""

    index: int
    serial_no: str | None
    payout: Payout | None = None
    created: bool = False
    problem: ItemProblem | None = None


async def apply(ctx: PayoutContext, batch: PayoutBatch) -> list[ItemOutcome]:
    """Check and store every item on its own; one bad item never blocks the others."""
    return [await _apply_item(ctx, batch, i, raw) for i, raw in enumerate(batch.items)]


async def _apply_item(ctx: PayoutContext, batch: PayoutBatch, index: int, raw: object) -> ItemOutcome:
    given = raw.get("serial_no", raw.get("projectOutwardPaySerialNo")) if isinstance(raw, Mapping) else None
    serial_no = given if isinstance(given, str) else None
    checked = check_item(raw)
    if isinstance(checked, ItemProblem):
        return ItemOutcome(index, serial_no, problem=checked)
    request_hash = checked.fingerprint()
    existing = await find_by_serial_no(ctx, batch.app_id, checked.serial_no)
    if existing is not None:
        return _repeat(index, existing, request_hash)
    problem = _payable(ctx, checked)
    if problem is not None:
        return ItemOutcome(index, serial_no, problem=problem)
    payout = _new_payout(ctx, batch, checked, request_hash)
    try:
        async with ctx.uow() as uow:
            await uow.payouts.add(payout)
            await uow.commit()
    except DuplicateRequest:
        # a concurrent application of the same serial number won the insert
        winner = await find_by_serial_no(ctx, batch.app_id, checked.serial_no)
        assert winner is not None, "a duplicate insert implies a stored payout"
        return _repeat(index, winner, request_hash)
    _record_applied(ctx, batch, payout)
    return ItemOutcome(index, checked.serial_no, payout, created=True)


def _new_payout(
    ctx: PayoutContext, batch: PayoutBatch, checked: PayoutApplication, request_hash: str
) -> Payout:
    now = ctx.clock()
    return Payout(
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


def _record_applied(ctx: PayoutContext, batch: PayoutBatch, payout: Payout) -> None:
    ctx.record(
        payout.id,
        FlowNode.ACCEPTED,
        "payout applied",
        app_id=batch.app_id,
        serial_no=payout.serial_no,
        trace_id=batch.trace_id,
        source_platform=batch.source_platform,
    )
    ctx.record(payout.id, FlowNode.VALIDATED, "checks passed; waiting for finance review")


def _repeat(index: int, existing: Payout, request_hash: str) -> ItemOutcome:
    """A serial number seen before: the same item is answered with its payout, another one is
    a conflict."""
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


def _payable(ctx: PayoutContext, a: PayoutApplication) -> ItemProblem | None:
    """Refuse now what could not be paid after review: over the limit, or no channel."""
    limit = ctx.payments.max_amounts.get(a.amount.currency)
    if limit is not None and a.amount.decimal > limit:
        return ItemProblem(
            ItemCode.AMOUNT_LIMIT_EXCEEDED,
            f"amount {a.amount} exceeds the single-payment limit {limit} {a.amount.currency}",
            "amount",
        )
    try:
        ctx.payments.explain(
            RouteRequest(
                a.pay_method.value,
                a.amount.decimal,
                a.amount.currency,
                None,
                PAYOUT_BUSINESS_TYPE,
                submitter="payouts",
            )
        )
    except (NoRoute, PayMethodNotAllowed) as exc:
        return ItemProblem(ItemCode.NO_ROUTE, exc.message, "ext.pay_method")
    return None

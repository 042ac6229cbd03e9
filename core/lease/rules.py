"""The seed's preconditions of the operations on a lease order: contract signing, withholding
signing, unsign, plan cancellation, and closing (关闭订单, seed 1.9.1: the order is synced, no
deduction is in flight, and the lease is fulfilled (every period paid) or the withholding plan was
cancelled for lease-to-sale (租转售) or a successful return (退租成功)). Each `check_*` raises
what is unmet; the order's moves check them again on the locked order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lease.errors import ClosePreconditionFailed, LeaseStateConflict
from core.lease.status import AgreementStatus, CancelReason, OrderStatus, PeriodStatus, PlanStatus

if TYPE_CHECKING:
    from core.lease.order import LeaseOrder

# Plan cancellations that allow closing an order that is not fulfilled (seed 1.9.1).
CLOSING_REASONS = frozenset({CancelReason.LEASE_TO_SALE, CancelReason.RETURN_SUCCESS})


def _require_open(order: LeaseOrder, what: str) -> None:
    if not order.open:
        raise LeaseStateConflict(
            f"cannot {what}: the order is {order.status.value} (only a synced, open order can)",
            field="status",
        )


def check_contract_signing(order: LeaseOrder) -> None:
    _require_open(order, "start contract signing")
    if order.contract.is_signed:
        raise LeaseStateConflict(f"the contract is already {order.contract.status.value}", field="contract")


def check_agreement_signing(order: LeaseOrder) -> None:
    _require_open(order, "start withholding signing")
    if order.plan.status is not PlanStatus.ACTIVE:
        raise LeaseStateConflict(f"the withholding plan is {order.plan.status.value}", field="plan")
    if order.agreement.status in (AgreementStatus.SIGNED, AgreementStatus.UNSIGNING):
        raise LeaseStateConflict(
            f"the withholding agreement is {order.agreement.status.value}", field="agreement"
        )


def check_unsign(order: LeaseOrder) -> None:
    """Unsigning, or refusing the user's unsign request, needs a signed agreement."""
    if order.agreement.status is not AgreementStatus.SIGNED:
        raise LeaseStateConflict(
            f"the withholding agreement is {order.agreement.status.value}, not signed", field="agreement"
        )


def check_plan_cancel(order: LeaseOrder, reason: CancelReason) -> None:
    """An active plan may be cancelled for any reason; one cancelled for `other` may be
    cancelled again for lease-to-sale or a successful return (what closing needs)."""
    _require_open(order, "cancel the withholding plan")
    plan = order.plan
    if plan.status is PlanStatus.CANCELLING:
        raise LeaseStateConflict("a cancellation of the plan is under way", field="plan")
    if plan.status is PlanStatus.CANCELLED and not (
        plan.cancel_reason is CancelReason.OTHER and reason in CLOSING_REASONS
    ):
        raise LeaseStateConflict(
            f"the withholding plan is already cancelled for {plan.cancel_reason}; only one cancelled "
            "for other may be cancelled again, for lease_to_sale or return_success",
            field="plan",
        )


def _not_fulfilled(order: LeaseOrder) -> str:
    unpaid = ", ".join(str(p.no) for p in order.periods if p.status is not PeriodStatus.PAID)
    why = (
        f"the plan was cancelled for {order.plan.cancel_reason.value}"
        if order.plan.cancel_reason is not None
        else "the withholding plan is active"
    )
    return (
        f"the lease is not fulfilled (period {unpaid} unpaid) and {why}: closing needs "
        "every period paid, or the plan cancelled for lease-to-sale or a successful return"
    )


def close_blockers(order: LeaseOrder) -> list[tuple[str, str]]:
    """The unmet preconditions of closing, as (name, what is wrong); empty: may close."""
    if order.status is not OrderStatus.SYNCED:
        return [("synced", f"the order is {order.status.value}, not synced with the channel")]
    blockers: list[tuple[str, str]] = []
    if order.live_periods:
        listed = ", ".join(str(n) for n in order.live_periods)
        blockers.append(("no_deduction_in_flight", f"a deduction is in flight for period {listed}"))
    plan = order.plan
    cancelled_for_closing = plan.status is PlanStatus.CANCELLED and plan.cancel_reason in CLOSING_REASONS
    if not order.fulfilled and not cancelled_for_closing:
        blockers.append(("fulfilled_or_plan_cancelled", _not_fulfilled(order)))
    return blockers


def close_basis(order: LeaseOrder) -> str:
    """The ground the order may close on ("fulfilled", "lease_to_sale" or "return_success");
    raises ClosePreconditionFailed naming the first unmet precondition."""
    blockers = close_blockers(order)
    if blockers:
        name, message = blockers[0]
        raise ClosePreconditionFailed(message, field=name)
    if order.fulfilled:
        return "fulfilled"
    assert order.plan.cancel_reason is not None
    return order.plan.cancel_reason.value

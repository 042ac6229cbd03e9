"""No lease order is stranded (issue 11 item 5): from every state an order can be left in, the
way out documented in docs/ARCHITECTURE.md ("Lease order states") reaches `closed` through the
use cases alone. `way_out` is that documentation as code: it picks the next step from the
order's state, and each parametrised start is walked until the order is closed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fakes.workflows import LeaseWorld, lease_world
from lease_builders import T0, collecting, contract_signed, new_order

from core.lease.order import LeaseOrder
from core.lease.plan import RetrySchedule
from core.lease.status import (
    AgreementStatus,
    CancelReason,
    ContractStatus,
    OrderStatus,
    PeriodStatus,
    PlanStatus,
)
from core.usecases.lease.close import LeaseClosing
from core.usecases.lease.collection import RentCollection
from core.usecases.lease.orders import LeaseOrderService
from core.usecases.lease.recovery import LeaseRecovery
from core.usecases.lease.signing import ContractSigning
from core.usecases.lease.withholding import WithholdingService
from ports.channels import ChannelResult, ChannelStatus

LATER = T0 + timedelta(minutes=10)  # past the worker's resync delay
RENT_DUE = T0 + timedelta(days=40)


@dataclass
class Lease:
    w: LeaseWorld
    close: LeaseClosing
    withholding: WithholdingService
    collection: RentCollection
    recovery: LeaseRecovery


def lease(*orders: LeaseOrder) -> Lease:
    w = lease_world(*orders)
    contract = ContractSigning(w.book, w.calls)
    collection = RentCollection(w.book, w.pay.service, w.policy)
    orders_service = LeaseOrderService(w.book, w.calls, w.pay.service, w.policy)
    return Lease(
        w,
        LeaseClosing(w.book, w.calls),
        WithholdingService(w.book, w.calls, contract),
        collection,
        LeaseRecovery(w.book, orders_service, contract, collection, w.policy),
    )


async def way_out(s: Lease, order: LeaseOrder) -> None:
    """The next step out of the order's state (docs/ARCHITECTURE.md, "Lease order states")."""
    claimed = (
        order.status is OrderStatus.CLOSING
        or order.plan.status is PlanStatus.CANCELLING
        or order.agreement.status is AgreementStatus.UNSIGNING
    )
    live = [p for p in order.periods if p.status is PeriodStatus.COLLECTING]
    if order.status is OrderStatus.CREATED or claimed:
        await s.recovery.run_once(10, LATER)  # the lease worker syncs, or settles a claim
    elif live:
        # the deduction's payment ends (a query, or the operator's resolve after 撤销): failed here
        await s.w.pay.service.apply_result(
            live[0].payment_id or "",
            ChannelResult(ChannelStatus.FAILED, code="TRADE_CANCEL_CLOSED"),
            via="test",
        )
    elif order.status is OrderStatus.SYNC_FAILED or order.fulfilled:
        await s.close.close(order.id, "shop", "way out")
    elif order.plan.status is PlanStatus.ACTIVE or order.plan.cancel_reason is CancelReason.OTHER:
        await s.withholding.cancel_plan(order.id, "shop", CancelReason.RETURN_SUCCESS, "goods returned")
    else:
        await s.close.close(order.id, "shop", "way out")


def fulfilled() -> LeaseOrder:
    order = collecting(new_order())
    for no in (1, 2):
        order, _ = order.start_attempt(no, T0)
        order = order.attempt_paid(no, 1, f"pay_{no}", f"T{no}", T0)
    return order


def agreement_signing(order: LeaseOrder) -> LeaseOrder:
    attempt, _ = order.next_agreement_attempt()
    return order.agreement_signing(attempt, "https://page", T0)


def failed_period() -> LeaseOrder:
    order, _ = collecting(new_order()).start_attempt(1, T0)
    return order.attempt_failed(1, 1, "pay_x", "BUYER_BALANCE_NOT_ENOUGH", None, T0, RetrySchedule((3600,)))


STARTS: dict[str, Callable[[], LeaseOrder]] = {
    "created": new_order,
    "sync_failed": lambda: new_order().sync_failed("BUYER_NOT_EXIST", "no buyer", T0),
    "synced, nothing signed": lambda: new_order().synced("CH-1", T0),
    "contract refused": lambda: (
        new_order()
        .synced("CH-1", T0)
        .contract_signing("TPL", "C1", "u", {"lessee": "u"}, ["lessee"], T0)
        .contract_sign_failed("C1", ContractStatus.REFUSED, "REFUSED", T0)
    ),
    "contract signed, withholding signing": lambda: agreement_signing(contract_signed(new_order())),
    "agreement unsigned": lambda: collecting(new_order()).agreement_unsigned("20265401", "user", T0),
    "collecting, rent being withheld": lambda: collecting(new_order()),
    "a period failed": failed_period,
    "plan cancelled for other": lambda: collecting(new_order()).plan_cancelled(CancelReason.OTHER, "x", T0),
    "fulfilled": fulfilled,
    "closing (unknown answer)": lambda: fulfilled().closing("done", T0),
    "plan cancelling (unknown answer)": lambda: collecting(new_order()).plan_cancelling(
        CancelReason.LEASE_TO_SALE, "sold", T0
    ),
    "unsigning (unknown answer)": lambda: collecting(new_order()).agreement_unsigning("returned", T0),
}


@pytest.mark.parametrize("start", list(STARTS))
async def test_every_lease_state_has_a_way_to_closed(start: str) -> None:
    order = STARTS[start]()
    s = lease(order)
    if start.startswith("collecting"):
        assert await s.collection.collect_due(10, RENT_DUE) >= 1  # a live deduction, outcome unknown
    for _ in range(8):
        order = s.w.orders[order.id]
        if order.status is OrderStatus.CLOSED:
            break
        await way_out(s, order)
    closed = s.w.orders[order.id]
    assert closed.status is OrderStatus.CLOSED, (start, closed.status, closed.plan, closed.periods)
    assert closed.closure is not None and closed.closure.basis in {
        "fulfilled",
        "return_success",
        "lease_to_sale",
        "sync_failed",
    }

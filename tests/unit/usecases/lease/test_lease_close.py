"""LeaseClosing: the seed's preconditions are checked before the channel is asked; a closed
order publishes lease.order_closed once, and closing it again is harmless."""

from __future__ import annotations

import pytest
from fakes.workflows import LeaseWorld, lease_world
from lease_builders import T0, collecting, new_order

from core.lease.errors import ClosePreconditionFailed
from core.lease.order import LeaseOrder
from core.lease.status import CancelReason, OrderStatus
from core.usecases.lease.close import LeaseClosing


def closing(w: LeaseWorld) -> LeaseClosing:
    return LeaseClosing(w.book, w.calls)


def returned() -> LeaseOrder:
    return collecting(new_order()).plan_cancelled(CancelReason.RETURN_SUCCESS, "returned", T0)


async def test_an_unfulfilled_order_with_an_active_plan_is_refused_before_the_channel_is_asked() -> None:
    order = collecting(new_order())
    w = lease_world(order)
    with pytest.raises(ClosePreconditionFailed) as refused:
        await closing(w).close(order.id, "shop", "done")
    assert refused.value.field == "fulfilled_or_plan_cancelled"
    assert w.port.calls == [] and w.events() == []


async def test_an_order_whose_plan_was_cancelled_for_a_return_closes_once() -> None:
    order = returned()
    w = lease_world(order)
    service = closing(w)
    closed = await service.close(order.id, "shop", "goods returned")
    assert closed.status is OrderStatus.CLOSED and closed.closure is not None
    assert closed.closure.basis == "return_success"
    again = await service.close(order.id, "shop", "goods returned")
    assert again.status is OrderStatus.CLOSED
    assert w.port.calls == ["close_order"] and w.events() == ["lease.order_closed"]

"""Specification of applying for payouts (core.usecases.payouts.intake, reading) on the fakes:
every item is checked and stored on its own, a serial number answers its first payout, and
what could never be paid is refused before it waits for review."""

from __future__ import annotations

from typing import Any

import pytest
from fakes.workflows import payout_world

from core.errors import NotFound
from core.payouts.model import PayoutStatus
from core.usecases.payouts import reading
from core.usecases.payouts.intake import PayoutBatch, apply


def item(serial_no: str = "S-1", amount: str = "12.30", **ext: Any) -> dict[str, Any]:
    return {
        "serial_no": serial_no,
        "order_serial_no": "O-1",
        "payee_account": "zhangsan@example.com",
        "amount": amount,
        "ext": {"type": 2, "pay_method": 1, "reason": "flight cancelled", "payee_name": "张三", **ext},
    }


def batch(*items: object) -> PayoutBatch:
    return PayoutBatch("app_1", "trace-1", list(items), source_platform="crm")


async def test_each_item_is_stored_or_refused_on_its_own() -> None:
    w = payout_world()
    good, bad = await apply(w.ctx, batch(item(), {"serial_no": "S-2"}))
    assert good.created and good.payout is not None and good.payout.status is PayoutStatus.PENDING_REVIEW
    assert (bad.serial_no, bad.payout) == ("S-2", None) and bad.problem is not None
    assert list(w.storage.state.payouts) == [good.payout.id]
    assert w.flow.nodes(good.payout.id) == ["accepted", "validated"]


async def test_a_serial_number_again_answers_its_first_payout_or_a_conflict() -> None:
    w = payout_world()
    [first] = await apply(w.ctx, batch(item()))
    [same] = await apply(w.ctx, batch(item()))
    [other] = await apply(w.ctx, batch(item(amount="99.00")))
    assert (same.payout, same.created) == (first.payout, False)
    assert other.problem is not None and other.problem.code.value == "IDEMPOTENCY_CONFLICT"
    assert len(w.storage.state.payouts) == 1


async def test_an_item_no_channel_could_pay_is_refused_before_review() -> None:
    w = payout_world(routed=False)
    [refused] = await apply(w.ctx, batch(item()))
    assert refused.problem is not None and refused.problem.code.value == "NO_ROUTE"
    assert w.storage.state.payouts == {}


async def test_a_payout_is_read_only_by_the_app_that_applied() -> None:
    w = payout_world()
    [applied] = await apply(w.ctx, batch(item()))
    assert applied.payout is not None
    assert await reading.get(w.ctx, applied.payout.id, "app_1") == applied.payout
    assert await reading.by_serial_no(w.ctx, "app_1", "S-1") == applied.payout
    with pytest.raises(NotFound):
        await reading.get(w.ctx, applied.payout.id, "app_2")

"""A bill whose bank attempt stays unknown follows the two operators' decision on its payment."""

from __future__ import annotations

import pytest
from fakes.ops import operator, resolve_world
from fakes.workflows import BillWorld, bill_world
from test_bill_bank import bank_loan

from core.bills.model import BillStatus
from ports.channels import ChannelResult, ChannelStatus

UNKNOWN = ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT")


async def decide(world: BillWorld, decision: str) -> str:
    bill, _ = await world.intake.submit(bank_loan())
    assert await world.send() == 1  # the send worker's round: the 8801 goes out, no answer
    assert world.bill(bill.id).status is BillStatus.BANK_UNKNOWN
    [payment] = [p for p in world.storage.state.payments.values() if p.details.get("bill_id") == bill.id]
    await world.pay.service.resolve(payment, attempts=1)  # the schedule's last step: escalated
    r = resolve_world(world.pay)
    approval = await r.propose(payment.id, decision, operator("alice"))
    await r.work()  # the approvals worker's fresh query: still unknown, so pending
    await r.approvals.confirm(approval.id, operator("bob"))
    await r.work()  # the worker runs the decision
    return bill.id


@pytest.mark.parametrize(
    ("decision", "expected"),
    [("failed", {BillStatus.BANK_FAILED}), ("succeeded", {BillStatus.BANK_SUCCEEDED, BillStatus.COMPLETED})],
)
async def test_the_bill_follows_the_decision_on_its_bank_attempt(
    decision: str, expected: set[BillStatus]
) -> None:
    world = bill_world(UNKNOWN)
    bill_id = await decide(world, decision)
    assert world.bill(bill_id).status in expected

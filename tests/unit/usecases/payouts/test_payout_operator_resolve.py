"""A payout whose payment stays unknown follows the two operators' decision on that payment."""

from __future__ import annotations

from fakes.ops import operator, resolve_world
from fakes.workflows import payout_world
from payout_builders import stored_payout

from core.payouts.model import PayoutStatus
from core.usecases.payouts.review import approve
from ports.channels import ChannelResult, ChannelStatus


async def test_the_payout_owning_an_escalated_payment_follows_the_decision() -> None:
    w = payout_world(ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT"))
    payout = stored_payout(w)
    await approve(w.ctx, payout.id, reviewer="fin-1", operator="fin-1", note=None)
    await w.pay_approved()
    [request] = w.port.calls
    payment = w.storage.state.payments[request.payment_id]
    await w.pay.service.resolve(payment, attempts=1)  # the last step: escalated
    r = resolve_world(w.pay)
    approval = await r.propose(payment.id, "failed", operator("alice"))
    await r.work()  # the approvals worker's fresh query: still unknown, so pending
    assert w.payout(payout.id).status is PayoutStatus.PAYING
    await r.approvals.confirm(approval.id, operator("bob"))
    await r.work()  # the worker runs the decision
    assert w.storage.state.payments[payment.id].status.value == "failed"
    assert w.payout(payout.id).status is PayoutStatus.FAILED

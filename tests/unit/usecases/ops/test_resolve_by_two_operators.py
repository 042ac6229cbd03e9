"""Specification of resolving an escalated unknown by two operators (core.usecases.payments.
operator_resolve through core.usecases.ops.approvals), on fakes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from fakes.channels import ScriptedPort, external
from fakes.ops import ResolveWorld, operator, resolve_world
from fakes.services import command, payment_service

from core.approvals.model import Approval, ApprovalAction, ApprovalStatus
from core.errors import Conflict, DomainError
from core.operators.model import Operator, Role
from core.payments.model import Payment, PaymentStatus
from ports.channels import ChannelResult, ChannelStatus, PaymentRequest

UNKNOWN = ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT")
PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="B-1")
REFUSED = ChannelResult(ChannelStatus.FAILED, code="NO_FUNDS")
ALICE, BOB = operator("alice"), operator("bob")


class ScriptedCancel:
    """A channel's cancel port answering `answer`; `calls` is what it was asked."""

    def __init__(self, answer: ChannelResult) -> None:
        self.answer = answer
        self.calls: list[str] = []

    async def cancel(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        self.calls.append(request.payment_id)
        return self.answer


async def escalated(cancel: ScriptedCancel | None = None) -> tuple[ResolveWorld, ScriptedPort, Payment]:
    """A payment whose query schedule ran out with its outcome unknown."""
    port = ScriptedPort(UNKNOWN)
    channel = replace(external(port), cancel=cancel) if cancel else external(port)
    w = resolve_world(payment_service(channel, steps=(10,)))
    payment, _ = await w.pay.service.submit(command())
    await w.pay.service.resolve(payment, attempts=0)
    assert w.pay.state.schedules[payment.id]["escalated"] is True
    return w, port, payment


async def propose(
    w: ResolveWorld, payment: Payment, decision: str = "succeeded", by: Operator = ALICE
) -> Approval:
    checked = await w.resolution.check(payment.id)
    approval = await w.approvals.propose(
        ApprovalAction.RESOLVE_PAYMENT,
        "payment",
        checked.id,
        {"decision": decision, "evidence": "bank statement line 42"},
        by,
        note="seen on the statement",
    )
    w.resolution.proposed(checked, approval)
    return approval


def status(w: ResolveWorld, payment: Payment) -> PaymentStatus:
    return w.pay.state.payments[payment.id].status


async def test_two_operators_resolve_an_escalated_payment_with_both_logins_in_the_flow() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    assert approval.status is ApprovalStatus.PENDING and status(w, payment) is PaymentStatus.UNKNOWN
    confirmed = await w.approvals.confirm(approval.id, BOB)
    assert confirmed.status is ApprovalStatus.CONFIRMED and confirmed.decided_by == "bob"
    assert w.store.rows[approval.id].status is ApprovalStatus.CONFIRMED
    moved = w.pay.state.payments[payment.id]
    assert moved.status is PaymentStatus.SUCCEEDED and moved.failure_code is None
    ops = [r for r in w.pay.flow.records if r.node.value == "operator_action"]
    assert [r.actor for r in ops] == ["alice", "bob"]
    assert ops[1].detail["proposed_by"] == "alice" and ops[1].detail["confirmed_by"] == "bob"
    assert ops[1].detail["evidence"] == "bank statement line 42" and ops[1].detail["note"]
    assert w.pay.nodes(payment.id)[-2:] == ["final_state", "operator_action"]


async def test_the_proposer_cannot_confirm_their_own_proposal() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    with pytest.raises(DomainError) as refused:
        await w.approvals.confirm(approval.id, ALICE)
    assert refused.value.code == "SAME_OPERATOR" and refused.value.http_status == 403
    assert status(w, payment) is PaymentStatus.UNKNOWN
    assert w.store.rows[approval.id].status is ApprovalStatus.PENDING


async def test_a_confirmer_without_the_role_is_refused() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    with pytest.raises(DomainError) as refused:
        await w.approvals.confirm(approval.id, operator("carol", Role.OPERATOR))
    assert refused.value.code == "ROLE_REQUIRED"
    assert w.store.rows[approval.id].status is ApprovalStatus.PENDING


async def test_a_payment_not_escalated_or_final_cannot_be_resolved() -> None:
    port = ScriptedPort(UNKNOWN)
    w = resolve_world(payment_service(external(port), steps=(10, 60)))
    payment, _ = await w.pay.service.submit(command())
    with pytest.raises(Conflict) as still_queried:
        await w.resolution.check(payment.id)
    assert still_queried.value.code == "NOT_ESCALATED"
    await w.pay.service.apply_result(payment.id, REFUSED, via="notification")
    with pytest.raises(Conflict) as final:
        await w.resolution.check(payment.id)
    assert final.value.code == "NOT_ESCALATED"


async def test_a_channel_that_answers_before_the_proposal_wins() -> None:
    w, port, payment = await escalated()
    port.answers = [PAID]
    with pytest.raises(Conflict) as answered:
        await propose(w, payment, "failed")
    assert answered.value.code == "CHANNEL_HAS_ANSWERED"
    assert status(w, payment) is PaymentStatus.SUCCEEDED
    assert w.store.rows == {}


async def test_a_channel_that_answers_before_the_confirmation_closes_the_proposal() -> None:
    w, port, payment = await escalated()
    approval = await propose(w, payment, "succeeded")
    port.answers = [REFUSED]
    with pytest.raises(Conflict) as answered:
        await w.approvals.confirm(approval.id, BOB)
    assert answered.value.code == "CHANNEL_HAS_ANSWERED"
    assert status(w, payment) is PaymentStatus.FAILED
    closed = w.store.rows[approval.id]
    assert closed.status is ApprovalStatus.CLOSED and "CHANNEL_HAS_ANSWERED" in (closed.reason or "")


async def test_concurrent_confirmations_run_the_decision_once() -> None:
    w, port, payment = await escalated()
    approval = await propose(w, payment)
    queries = len(port.calls)
    outcomes = await asyncio.gather(
        w.approvals.confirm(approval.id, BOB),
        w.approvals.confirm(approval.id, operator("carol")),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(refused) == 1 and refused[0].code == "APPROVAL_DECIDED"
    assert len(port.calls) == queries + 1  # one fresh query: one execution
    confirms = [r for r in w.pay.flow.records if r.detail.get("confirmed_by")]
    assert len(confirms) == 1 and status(w, payment) is PaymentStatus.SUCCEEDED


async def test_a_rejected_proposal_needs_a_reason_and_is_never_run() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    with pytest.raises(DomainError):
        await w.approvals.reject(approval.id, BOB, "  ")
    rejected = await w.approvals.reject(approval.id, BOB, "the statement is of another day")
    assert rejected.status is ApprovalStatus.REJECTED and rejected.reason
    with pytest.raises(Conflict):
        await w.approvals.confirm(approval.id, operator("carol"))
    assert status(w, payment) is PaymentStatus.UNKNOWN


async def test_failing_at_a_channel_that_can_cancel_cancels_first() -> None:
    cancel = ScriptedCancel(ChannelResult(ChannelStatus.FAILED, code="CANCELLED"))
    w, _, payment = await escalated(cancel)
    approval = await propose(w, payment, "failed")
    await w.approvals.confirm(approval.id, BOB)
    assert cancel.calls == [payment.id]
    moved = w.pay.state.payments[payment.id]
    assert moved.status is PaymentStatus.FAILED and moved.failure_code == "OPERATOR_RESOLVED"


async def test_a_cancel_that_finds_the_order_paid_applies_success_and_refuses() -> None:
    w, _, payment = await escalated(ScriptedCancel(PAID))
    approval = await propose(w, payment, "failed")
    with pytest.raises(Conflict) as answered:
        await w.approvals.confirm(approval.id, BOB)
    assert answered.value.code == "CHANNEL_HAS_ANSWERED"
    assert status(w, payment) is PaymentStatus.SUCCEEDED
    assert w.store.rows[approval.id].status is ApprovalStatus.CLOSED


async def test_a_cancel_without_a_definite_answer_decides_nothing() -> None:
    w, _, payment = await escalated(ScriptedCancel(UNKNOWN))
    approval = await propose(w, payment, "failed")
    with pytest.raises(Conflict) as later:
        await w.approvals.confirm(approval.id, BOB)
    assert later.value.code == "CANCEL_UNKNOWN"
    assert status(w, payment) is PaymentStatus.UNKNOWN


async def test_a_succeeded_decision_never_cancels() -> None:
    cancel = ScriptedCancel(ChannelResult(ChannelStatus.FAILED))
    w, _, payment = await escalated(cancel)
    await w.approvals.confirm((await propose(w, payment, "succeeded")).id, BOB)
    assert cancel.calls == [] and status(w, payment) is PaymentStatus.SUCCEEDED

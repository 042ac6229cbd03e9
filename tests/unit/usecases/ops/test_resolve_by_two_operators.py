"""Specification of resolving an escalated unknown by two operators (core.usecases.payments.
operator_resolve through core.usecases.ops.approvals and the approvals worker's round,
core.usecases.ops.approval_runs), on fakes: the requests only record intent, the worker's
round does the channel calls."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from fakes.channels import ScriptedPort, external
from fakes.ops import ResolveWorld, operator, resolve_world
from fakes.services import command, payment_service

from core.approvals.model import Approval, ApprovalAction, ApprovalStatus
from core.errors import Conflict, DomainError
from core.operators.model import Operator, Role
from core.payments.model import Payment, PaymentStatus
from core.usecases.ops.approvals import ApprovalExecutor
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
    """The proposal, then the worker's round that checks it at the channel."""
    approval = await w.propose(
        payment.id, decision, by, evidence="bank statement line 42", note="seen on the statement"
    )
    assert approval.status is ApprovalStatus.CHECKING
    assert await w.work() == 1
    return w.row(approval.id)


async def confirm(w: ResolveWorld, approval: Approval, by: Operator = BOB) -> Approval:
    """The confirmation, then the worker's round that runs it."""
    claimed = await w.approvals.confirm(approval.id, by)
    assert claimed.status is ApprovalStatus.EXECUTING and claimed.decided_by == by.login
    assert await w.work() == 1
    return w.row(approval.id)


def status(w: ResolveWorld, payment: Payment) -> PaymentStatus:
    return w.pay.state.payments[payment.id].status


async def test_two_operators_resolve_an_escalated_payment_with_both_logins_in_the_flow() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    assert approval.status is ApprovalStatus.PENDING and status(w, payment) is PaymentStatus.UNKNOWN
    confirmed = await confirm(w, approval)
    assert confirmed.status is ApprovalStatus.CONFIRMED and confirmed.decided_by == "bob"
    assert confirmed.result["payment"]["status"] == "succeeded"
    moved = w.pay.state.payments[payment.id]
    assert moved.status is PaymentStatus.SUCCEEDED and moved.failure_code is None
    ops = [r for r in w.pay.flow.records if r.node.value == "operator_action"]
    assert [r.actor for r in ops] == ["alice", "bob"]
    assert ops[1].detail["proposed_by"] == "alice" and ops[1].detail["confirmed_by"] == "bob"
    assert ops[1].detail["evidence"] == "bank statement line 42" and ops[1].detail["note"]
    assert w.pay.nodes(payment.id)[-2:] == ["final_state", "operator_action"]


class GatedPort(ScriptedPort):
    """A channel that answers only once the test opens `gate`: as slow as the test wants."""

    def __init__(self, *answers: ChannelResult) -> None:
        super().__init__(*answers)
        self.gate = asyncio.Event()
        self.asked = asyncio.Event()

    async def query(self, request: PaymentRequest, channel_ref: str | None) -> ChannelResult:
        self.asked.set()
        await self.gate.wait()
        return await super().query(request, channel_ref)


async def test_no_operator_request_waits_on_a_channel_that_does_not_answer() -> None:
    """The proposal and the confirmation are answered while the channel has not answered the
    worker's query: neither request waits for it (the gate opens only after both answers)."""
    w, port, payment = await escalated()
    gated = GatedPort(UNKNOWN)
    w.pay.service.access.channels[payment.channel] = replace(external(gated))
    proposal = await w.propose(payment.id, "succeeded", ALICE, evidence="statement")
    assert proposal.status is ApprovalStatus.CHECKING and not gated.asked.is_set()
    worker = asyncio.create_task(w.work())
    await gated.asked.wait()
    assert w.row(proposal.id).status is ApprovalStatus.CHECKING  # the worker is at the channel
    with pytest.raises(Conflict) as too_early:
        await w.approvals.confirm(proposal.id, BOB)
    assert too_early.value.code == "APPROVAL_CHECKING"
    gated.gate.set()
    assert await worker == 1 and w.row(proposal.id).status is ApprovalStatus.PENDING

    gated.gate.clear()
    gated.asked.clear()
    claimed = await w.approvals.confirm(proposal.id, BOB)
    assert claimed.status is ApprovalStatus.EXECUTING and not gated.asked.is_set()
    assert status(w, payment) is PaymentStatus.UNKNOWN
    worker = asyncio.create_task(w.work())
    await gated.asked.wait()
    assert w.row(proposal.id).status is ApprovalStatus.EXECUTING
    gated.gate.set()
    assert await worker == 1 and w.row(proposal.id).status is ApprovalStatus.CONFIRMED
    assert status(w, payment) is PaymentStatus.SUCCEEDED


async def test_the_proposer_cannot_confirm_their_own_proposal() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    with pytest.raises(DomainError) as refused:
        await w.approvals.confirm(approval.id, ALICE)
    assert refused.value.code == "SAME_OPERATOR" and refused.value.http_status == 403
    assert status(w, payment) is PaymentStatus.UNKNOWN
    assert w.row(approval.id).status is ApprovalStatus.PENDING


async def test_a_confirmer_without_the_role_is_refused() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    with pytest.raises(DomainError) as refused:
        await w.approvals.confirm(approval.id, operator("carol", Role.OPERATOR))
    assert refused.value.code == "ROLE_REQUIRED"
    assert w.row(approval.id).status is ApprovalStatus.PENDING


async def test_a_payment_not_escalated_or_final_cannot_be_resolved() -> None:
    port = ScriptedPort(UNKNOWN)
    w = resolve_world(payment_service(external(port), steps=(10, 60)))
    payment, _ = await w.pay.service.submit(command())
    with pytest.raises(Conflict) as still_queried:
        await w.propose(payment.id, "succeeded", ALICE)
    assert still_queried.value.code == "NOT_ESCALATED"
    await w.pay.service.apply_result(payment.id, REFUSED, via="notification")
    with pytest.raises(Conflict) as final:
        await w.propose(payment.id, "succeeded", ALICE)
    assert final.value.code == "NOT_ESCALATED"
    assert w.store.rows == {}


async def test_a_channel_that_answers_before_the_proposal_is_confirmable_wins() -> None:
    w, port, payment = await escalated()
    port.answers = [PAID]
    closed = await propose(w, payment, "failed")
    assert closed.status is ApprovalStatus.CLOSED
    assert (closed.reason or "").startswith("CHANNEL_HAS_ANSWERED")
    assert status(w, payment) is PaymentStatus.SUCCEEDED
    with pytest.raises(Conflict):
        await w.approvals.confirm(closed.id, BOB)


async def test_a_channel_that_answers_before_the_confirmation_closes_the_proposal() -> None:
    w, port, payment = await escalated()
    approval = await propose(w, payment, "succeeded")
    port.answers = [REFUSED]
    closed = await confirm(w, approval)
    assert closed.status is ApprovalStatus.CLOSED and "CHANNEL_HAS_ANSWERED" in (closed.reason or "")
    assert status(w, payment) is PaymentStatus.FAILED


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
    assert sorted(await asyncio.gather(w.work("worker-1"), w.work("worker-2"))) == [0, 1]
    assert len(port.calls) == queries + 1  # one fresh query: one execution
    confirms = [r for r in w.pay.flow.records if r.detail.get("confirmed_by")]
    assert len(confirms) == 1 and status(w, payment) is PaymentStatus.SUCCEEDED


async def test_a_proposal_a_stopped_worker_left_checking_is_taken_over_once_its_claim_ends() -> None:
    w, port, payment = await escalated()
    approval = await w.propose(payment.id, "succeeded", ALICE)
    now = w.pay.clock()
    assert await w.store.claim(
        approval.id, ApprovalStatus.CHECKING, holder="stopped", until=now + w.runs.lease, now=now
    )
    queries = len(port.calls)
    assert await w.work("worker-2") == 0 and len(port.calls) == queries, "held by the stopped worker"
    w.pay.clock.now += w.runs.lease
    assert await w.work("worker-2") == 1
    assert w.row(approval.id).status is ApprovalStatus.PENDING and len(port.calls) == queries + 1


class FailingOnce:
    """An executor whose first run fails with an error that is no refusal (a lost database)."""

    def __init__(self, executor: ApprovalExecutor) -> None:
        self.executor = executor
        self.failed = False

    async def execute(self, approval: Approval, confirmed_by: str) -> dict[str, Any]:
        if not self.failed:
            self.failed = True
            raise RuntimeError("connection reset by the database")
        return await self.executor.execute(approval, confirmed_by)


async def test_a_confirmation_whose_worker_failed_midway_is_run_again_once_its_claim_ends() -> None:
    w, port, payment = await escalated()
    approval = await propose(w, payment)
    await w.approvals.confirm(approval.id, BOB)
    w.approvals.executors[ApprovalAction.RESOLVE_PAYMENT] = FailingOnce(w.resolution)
    assert await w.work() == 0  # not a refusal: unknown what ran, so it stays executing
    assert w.row(approval.id).status is ApprovalStatus.EXECUTING
    assert await w.work() == 0, "still claimed by the worker that failed"
    w.pay.clock.now += w.runs.lease
    assert await w.work() == 1
    assert w.row(approval.id).status is ApprovalStatus.CONFIRMED
    assert status(w, payment) is PaymentStatus.SUCCEEDED


async def test_the_worker_never_makes_an_illegal_move() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    rejected = await w.approvals.reject(approval.id, BOB, "another day's statement")
    with pytest.raises(Conflict) as illegal:
        await w.approvals.move(rejected, ApprovalStatus.CONFIRMED, at=w.pay.clock())
    assert illegal.value.code == "ILLEGAL_TRANSITION"
    assert w.row(approval.id).status is ApprovalStatus.REJECTED


async def test_a_rejected_proposal_needs_a_reason_and_is_never_run() -> None:
    w, _, payment = await escalated()
    approval = await propose(w, payment)
    with pytest.raises(DomainError):
        await w.approvals.reject(approval.id, BOB, "  ")
    rejected = await w.approvals.reject(approval.id, BOB, "the statement is of another day")
    assert rejected.status is ApprovalStatus.REJECTED and rejected.reason
    with pytest.raises(Conflict):
        await w.approvals.confirm(approval.id, operator("carol"))
    assert await w.work() == 0
    assert status(w, payment) is PaymentStatus.UNKNOWN


async def test_failing_at_a_channel_that_can_cancel_cancels_first() -> None:
    cancel = ScriptedCancel(ChannelResult(ChannelStatus.FAILED, code="CANCELLED"))
    w, _, payment = await escalated(cancel)
    confirmed = await confirm(w, await propose(w, payment, "failed"))
    assert confirmed.status is ApprovalStatus.CONFIRMED
    assert cancel.calls == [payment.id]
    moved = w.pay.state.payments[payment.id]
    assert moved.status is PaymentStatus.FAILED and moved.failure_code == "OPERATOR_RESOLVED"


async def test_a_cancel_that_finds_the_order_paid_applies_success_and_refuses() -> None:
    w, _, payment = await escalated(ScriptedCancel(PAID))
    closed = await confirm(w, await propose(w, payment, "failed"))
    assert closed.status is ApprovalStatus.CLOSED
    assert (closed.reason or "").startswith("CHANNEL_HAS_ANSWERED")
    assert status(w, payment) is PaymentStatus.SUCCEEDED


async def test_a_cancel_without_a_definite_answer_decides_nothing() -> None:
    w, _, payment = await escalated(ScriptedCancel(UNKNOWN))
    closed = await confirm(w, await propose(w, payment, "failed"))
    assert closed.status is ApprovalStatus.CLOSED
    assert (closed.reason or "").startswith("CANCEL_UNKNOWN")
    assert status(w, payment) is PaymentStatus.UNKNOWN


async def test_a_succeeded_decision_never_cancels() -> None:
    cancel = ScriptedCancel(ChannelResult(ChannelStatus.FAILED))
    w, _, payment = await escalated(cancel)
    await confirm(w, await propose(w, payment, "succeeded"))
    assert cancel.calls == [] and status(w, payment) is PaymentStatus.SUCCEEDED

"""Finance review on in-memory storage: approving commits and wakes the payout worker, whose round
pays (no reviewer's call waits on the channel); rejecting tells the caller, once each."""

from __future__ import annotations

import pytest
from fakes.workflows import PAYOUT_TIME, payout_world
from payout_builders import stored_payout

from core.errors import Conflict, IllegalTransition
from core.payouts.model import PayoutStatus, payment_out_request_no
from core.usecases.payouts.review import approve, reject
from core.usecases.shared.conflicts import ATTEMPTS


async def test_approving_records_the_review_and_submits_the_one_payment() -> None:
    w = payout_world()
    payout = stored_payout(w)
    approved = await approve(w.ctx, payout.id, reviewer="fin-1", operator="op-1", note="ok")
    assert approved.status is PayoutStatus.APPROVED and not w.port.calls, "no channel call in the review"
    assert w.ctx.to_pay.is_set(), "the payout worker is woken"
    assert approved.review is not None and (approved.review.reviewer, approved.review.note) == ("fin-1", "ok")
    assert await w.pay_approved() == 1
    [request] = w.port.calls
    payment = w.storage.state.payments[request.payment_id]
    assert payment.out_request_no == payment_out_request_no(payout.id)
    assert request.details["payout_id"] == payout.id and request.details["notify"] is False
    # the channel's processing answer moved the payout with its payment; no result yet
    assert w.payout(payout.id).status is PayoutStatus.PAYING and payment.status.value == "processing"
    assert w.storage.state.outbox == []


async def test_approving_again_pays_once_without_a_second_review() -> None:
    w = payout_world()
    payout = stored_payout(w)
    await approve(w.ctx, payout.id, reviewer="fin-1")
    await w.pay_approved()
    await approve(w.ctx, payout.id, reviewer="fin-2")
    assert await w.pay_approved() == 0
    # the second approval changed nothing: the channel was asked once
    assert len(w.port.calls) == 1 and len(w.storage.state.payments) == 1
    assert w.payout(payout.id).review.reviewer == "fin-1"  # type: ignore[union-attr]
    assert [r.actor for r in w.flow.records if r.subject_id == payout.id] == ["fin-1", "payout-worker"]


async def test_an_approval_that_lost_a_race_reads_the_payout_again() -> None:
    w = payout_world()
    payout = stored_payout(w)
    w.storage.state.races.lose("payouts", ATTEMPTS - 1)
    assert (await approve(w.ctx, payout.id, reviewer="fin-1")).status is PayoutStatus.APPROVED


async def test_an_approval_that_loses_every_race_gives_up() -> None:
    w = payout_world()
    payout = stored_payout(w)
    w.storage.state.races.lose("payouts", ATTEMPTS)
    with pytest.raises(Conflict):
        await approve(w.ctx, payout.id, reviewer="fin-1")
    assert w.payout(payout.id).status is PayoutStatus.PENDING_REVIEW and not w.port.calls


async def test_an_approved_payout_no_payment_could_be_made_for_fails_and_tells_the_caller() -> None:
    w = payout_world(routed=False)
    payout = stored_payout(w)
    await approve(w.ctx, payout.id, reviewer="fin-1")
    await w.pay_approved()
    failed = w.payout(payout.id)
    assert (failed.status, failed.failure_code, failed.finished_at) == (
        PayoutStatus.FAILED,
        "NO_ROUTE",
        PAYOUT_TIME,
    )
    [event] = w.storage.state.outbox
    assert (event["event_type"], event["subject_id"]) == ("payout.failed", payout.serial_no)
    assert event["payload"]["succeeded"] is False


async def test_rejecting_tells_the_caller_once_and_a_rejected_payout_cannot_be_approved() -> None:
    w = payout_world()
    payout = stored_payout(w)
    rejected = await reject(w.ctx, payout.id, reviewer="fin-1", reason="duplicate claim")
    again = await reject(w.ctx, payout.id, reviewer="fin-2", reason="still a duplicate")
    assert again == rejected and rejected.failure_message == "duplicate claim"
    [event] = w.storage.state.outbox
    assert event["event_type"] == "payout.rejected" and event["payload"]["message"] == "duplicate claim"
    with pytest.raises(IllegalTransition):
        await approve(w.ctx, payout.id, reviewer="fin-1")


async def test_an_approved_payout_can_no_longer_be_rejected() -> None:
    w = payout_world()
    payout = stored_payout(w, PayoutStatus.APPROVED)
    with pytest.raises(IllegalTransition):
        await reject(w.ctx, payout.id, reviewer="fin-1", reason="too late")
    assert w.storage.state.outbox == []

"""Finance review on in-memory storage: approving pays, rejecting tells the caller, once each."""

from __future__ import annotations

import pytest
from payout_fakes import NOW, stored_payout, world

from core.errors import Conflict, IllegalTransition, NoRoute
from core.payouts.model import PayoutStatus, payment_out_request_no
from core.usecases.payouts.review import approve, reject
from core.usecases.shared.conflicts import ATTEMPTS


async def test_approving_records_the_review_and_submits_the_one_payment() -> None:
    w = world()
    payout = stored_payout(w)
    approved = await approve(w.ctx, payout.id, reviewer="fin-1", operator="op-1", note="ok")
    assert approved.status is PayoutStatus.APPROVED
    assert approved.review is not None and (approved.review.reviewer, approved.review.note) == ("fin-1", "ok")
    [command] = w.payments.submitted
    assert command.out_request_no == payment_out_request_no(payout.id)
    assert command.details["payout_id"] == payout.id and command.details["notify"] is False
    assert w.store.events == []  # approval is no result yet


async def test_approving_again_resubmits_the_same_payment_without_a_second_review() -> None:
    w = world()
    payout = stored_payout(w)
    await approve(w.ctx, payout.id, reviewer="fin-1")
    await approve(w.ctx, payout.id, reviewer="fin-2")
    assert [c.out_request_no for c in w.payments.submitted] == [payment_out_request_no(payout.id)] * 2
    assert w.payout(payout.id).review.reviewer == "fin-1"  # type: ignore[union-attr]
    assert [r.actor for r in w.flow.records] == ["fin-1"]


async def test_an_approval_that_lost_a_race_reads_the_payout_again() -> None:
    w = world()
    payout = stored_payout(w)
    w.store.races_to_lose = ATTEMPTS - 1
    assert (await approve(w.ctx, payout.id, reviewer="fin-1")).status is PayoutStatus.APPROVED


async def test_an_approval_that_loses_every_race_gives_up() -> None:
    w = world()
    payout = stored_payout(w)
    w.store.races_to_lose = ATTEMPTS
    with pytest.raises(Conflict):
        await approve(w.ctx, payout.id, reviewer="fin-1")
    assert w.payout(payout.id).status is PayoutStatus.PENDING_REVIEW and not w.payments.submitted


async def test_an_approved_payout_no_payment_could_be_made_for_fails_and_tells_the_caller() -> None:
    w = world()
    payout = stored_payout(w)
    w.payments.refusal = NoRoute("no channel pays alipay")
    failed = await approve(w.ctx, payout.id, reviewer="fin-1")
    assert (failed.status, failed.failure_code, failed.finished_at) == (PayoutStatus.FAILED, "NO_ROUTE", NOW)
    [event] = w.store.events
    assert (event["type"], event["subject"]) == ("payout.failed", payout.serial_no)
    assert event["payload"]["succeeded"] is False


async def test_rejecting_tells_the_caller_once_and_a_rejected_payout_cannot_be_approved() -> None:
    w = world()
    payout = stored_payout(w)
    rejected = await reject(w.ctx, payout.id, reviewer="fin-1", reason="duplicate claim")
    again = await reject(w.ctx, payout.id, reviewer="fin-2", reason="still a duplicate")
    assert again == rejected and rejected.failure_message == "duplicate claim"
    [event] = w.store.events
    assert event["type"] == "payout.rejected" and event["payload"]["message"] == "duplicate claim"
    with pytest.raises(IllegalTransition):
        await approve(w.ctx, payout.id, reviewer="fin-1")


async def test_an_approved_payout_can_no_longer_be_rejected() -> None:
    w = world()
    payout = stored_payout(w, PayoutStatus.APPROVED)
    with pytest.raises(IllegalTransition):
        await reject(w.ctx, payout.id, reviewer="fin-1", reason="too late")
    assert w.store.events == []

"""A payment the channel provably never received is sent again, with the same id, only after its
request's deadline (core.usecases.payments.resolve), on fakes."""

from __future__ import annotations

from datetime import timedelta

from fakes.channels import ScriptedPort, external
from fakes.services import Clock, command, payment_service

from core.payments.model import PaymentStatus
from core.usecases.payments.resolve import RESEND_GRACE
from ports.channels import ChannelResult, ChannelStatus

LOST = ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT")
NOT_FOUND = ChannelResult(ChannelStatus.UNKNOWN, code="ORDER_NOT_EXIST", order_not_found=True)
PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="B-1")
TIMEOUT = 30.0


async def test_not_found_before_the_deadline_is_only_unknown() -> None:
    clock = Clock()
    port = ScriptedPort(LOST, NOT_FOUND)
    h = payment_service(external(port), clock=clock, timeout=TIMEOUT)
    payment, _ = await h.service.submit(command())
    clock.now = payment.created_at + timedelta(seconds=TIMEOUT) + RESEND_GRACE - timedelta(seconds=1)
    moved = await h.service.resolve(payment, attempts=0)
    assert moved.status is PaymentStatus.UNKNOWN
    assert len(port.calls) == 2  # the submit and the query: nothing sent again


async def test_not_found_after_the_deadline_resends_the_same_request_once_per_round() -> None:
    clock = Clock()
    port = ScriptedPort(LOST, NOT_FOUND, LOST, NOT_FOUND, PAID)
    h = payment_service(external(port), clock=clock, timeout=TIMEOUT)
    payment, _ = await h.service.submit(command())
    clock.now = payment.created_at + timedelta(seconds=TIMEOUT) + RESEND_GRACE
    once = await h.service.resolve(payment, attempts=0)
    assert once.status is PaymentStatus.UNKNOWN  # the resend's answer was lost too
    assert len(port.calls) == 3  # submit, query, resend
    paid = await h.service.resolve(once, attempts=1)
    assert paid.status is PaymentStatus.SUCCEEDED
    # every request to the channel carried the payment's one id: never a new order number
    assert {c.payment_id for c in port.calls} == {payment.id}
    assert len(h.state.payments) == 1
    resent = [r for r in h.flow.records if r.subject_id == payment.id and r.detail.get("resent")]
    assert len(resent) == 2


async def test_a_processing_payment_is_never_resent() -> None:
    clock = Clock()
    port = ScriptedPort(ChannelResult(ChannelStatus.PROCESSING, channel_ref="B-1"), NOT_FOUND)
    h = payment_service(external(port), clock=clock, timeout=TIMEOUT)
    payment, _ = await h.service.submit(command())
    clock.now = payment.created_at + timedelta(hours=1)
    await h.service.resolve(payment, attempts=0)
    assert len(port.calls) == 2  # the submit and the query: the channel had acknowledged it


async def test_a_resend_restarts_the_query_schedule_instead_of_escalating_at_once() -> None:
    """The resent request is a new request at the channel: it gets the whole query schedule,
    not what was left of the lost one's (which would escalate it at its first DEALING)."""
    clock = Clock()
    dealing = ChannelResult(ChannelStatus.PROCESSING, channel_ref="B-1")
    port = ScriptedPort(LOST, NOT_FOUND, dealing)
    h = payment_service(external(port), clock=clock, timeout=TIMEOUT)
    payment, _ = await h.service.submit(command())
    clock.now = payment.created_at + timedelta(seconds=TIMEOUT) + RESEND_GRACE
    # the lost request had used up its schedule (steps 10, 60): its next answer would escalate
    moved = await h.service.resolve(payment, attempts=1)
    schedule = h.state.schedules[payment.id]
    assert moved.status is PaymentStatus.PROCESSING
    assert schedule["escalated"] is False and schedule["query_attempts"] == 1

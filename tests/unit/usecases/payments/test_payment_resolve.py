"""Specification of resolving an unknown outcome by query (core.usecases.payments.resolve), on fakes."""

from __future__ import annotations

from datetime import timedelta

from fakes.channels import ScriptedPort, external
from fakes.services import command, payment_service

from core.payments.model import PaymentStatus
from ports.channels import ChannelResult, ChannelStatus

UNKNOWN = ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT")
PROCESSING = ChannelResult(ChannelStatus.PROCESSING, channel_ref="B-1")
PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="B-1")


async def test_final_answer_to_a_query_is_applied() -> None:
    port = ScriptedPort(UNKNOWN, PAID)
    h = payment_service(external(port))
    payment, _ = await h.service.submit(command())
    resolved = await h.service.resolve(payment, attempts=0)
    assert resolved.status is PaymentStatus.SUCCEEDED
    assert "query_answer" in h.nodes(payment.id)


async def test_answer_still_open_schedules_the_next_query() -> None:
    h = payment_service(external(ScriptedPort(UNKNOWN, PROCESSING)), steps=(10, 60, 300))
    payment, _ = await h.service.submit(command())
    moved = await h.service.resolve(payment, attempts=0)
    schedule = h.state.schedules[payment.id]
    assert moved.status is PaymentStatus.PROCESSING
    assert schedule["query_attempts"] == 1
    assert schedule["next_query_at"] - moved.updated_at == timedelta(seconds=60)
    assert schedule["escalated"] is False


async def test_outcome_open_after_the_schedule_is_escalated_never_failed() -> None:
    h = payment_service(external(ScriptedPort(UNKNOWN)), steps=(10,))
    payment, _ = await h.service.submit(command())
    moved = await h.service.resolve(payment, attempts=0)
    assert moved.status is PaymentStatus.UNKNOWN
    assert h.state.schedules[payment.id]["escalated"] is True
    assert h.nodes(payment.id)[-1] == "escalated"


async def test_channel_without_a_query_port_leaves_the_payment_to_query_later() -> None:
    h = payment_service(external(ScriptedPort(UNKNOWN), query=False))
    payment, _ = await h.service.submit(command())
    moved = await h.service.resolve(payment, attempts=0)
    assert moved.status is PaymentStatus.UNKNOWN
    assert h.state.schedules[payment.id]["query_attempts"] == 1


async def test_payment_made_final_meanwhile_is_left_as_it_is() -> None:
    h = payment_service(external(ScriptedPort(UNKNOWN, PROCESSING)))
    payment, _ = await h.service.submit(command())
    await h.service.apply_result(payment.id, PAID, via="notification")
    current = await h.service.resolve(payment, attempts=0)
    assert current.status is PaymentStatus.SUCCEEDED

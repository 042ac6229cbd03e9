"""Specification of applying a channel's answer (core.usecases.payments.results), on fakes."""

from __future__ import annotations

from payment_fakes import ScriptedPort, command, external, harness

from core.payments.model import Payment, PaymentStatus
from ports.channels import ChannelResult, ChannelStatus
from ports.storage import UnitOfWork

PROCESSING = ChannelResult(ChannelStatus.PROCESSING, channel_ref="B-1")
PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="B-1")
REFUSED = ChannelResult(ChannelStatus.FAILED, code="ACCOUNT_CLOSED", message="payee account closed")


async def test_final_answer_is_announced_to_the_app_with_the_payment_view() -> None:
    h = harness(external(ScriptedPort(PROCESSING)))
    payment, _ = await h.service.submit(command())
    failed = await h.service.apply_result(payment.id, REFUSED, via="notification")
    assert (failed.status, failed.failure_code) == (PaymentStatus.FAILED, "ACCOUNT_CLOSED")
    [(app, kind, subject, payload)] = h.state.events
    assert (app, kind, subject) == ("app", "payment.failed", payment.id)
    assert payload["payment"]["status"] == "failed" and payload["payment"]["out_request_no"] == "r-1"
    assert h.state.schedules[payment.id]["next_query_at"] is None


async def test_payment_without_webhook_is_not_announced() -> None:
    h = harness(external(ScriptedPort(PAID)))
    await h.service.submit(command(details={"notify": False}))
    assert h.state.events == []


async def test_listeners_move_with_the_payment_and_one_added_later_is_called_too() -> None:
    moved: list[tuple[str, PaymentStatus]] = []

    async def first(uow: UnitOfWork, payment: Payment) -> None:
        moved.append(("first", payment.status))

    async def later(uow: UnitOfWork, payment: Payment) -> None:
        moved.append(("later", payment.status))

    h = harness(external(ScriptedPort(PROCESSING)), listeners=[first])
    payment, _ = await h.service.submit(command())
    h.service.listeners.append(later)
    await h.service.apply_result(payment.id, PAID, via="query")
    assert moved == [
        ("first", PaymentStatus.PROCESSING),
        ("first", PaymentStatus.SUCCEEDED),
        ("later", PaymentStatus.SUCCEEDED),
    ]


async def test_answer_contradicting_a_final_payment_changes_nothing_and_asks_an_operator() -> None:
    h = harness(external(ScriptedPort(PAID)))
    payment, _ = await h.service.submit(command())
    answer = await h.service.apply_result(payment.id, REFUSED, via="notification")
    assert answer.status is PaymentStatus.SUCCEEDED
    assert h.state.payments[payment.id].status is PaymentStatus.SUCCEEDED
    assert [r.outcome.value for r in h.flow if r.subject_id == payment.id][-1] == "failed"
    assert len(h.state.events) == 1

"""Specification of applying a channel's answer (core.usecases.payments.results), on fakes."""

from __future__ import annotations

from fakes.channels import ScriptedPort, external
from fakes.services import command, payment_service

from core.payments.model import Payment, PaymentStatus
from ports.channels import ChannelResult, ChannelStatus
from ports.storage import UnitOfWork


class Recording:
    """A listener that follows every payment and notes each move it is called with."""

    def __init__(self, name: str, moved: list[tuple[str, PaymentStatus]]) -> None:
        self.name = name
        self.moved = moved

    def follows(self, payment: Payment) -> bool:
        return True

    async def __call__(self, uow: UnitOfWork, payment: Payment) -> None:
        self.moved.append((self.name, payment.status))


PROCESSING = ChannelResult(ChannelStatus.PROCESSING, channel_ref="B-1")
PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="B-1")
REFUSED = ChannelResult(ChannelStatus.FAILED, code="ACCOUNT_CLOSED", message="payee account closed")


async def test_final_answer_is_announced_to_the_app_with_the_payment_view() -> None:
    h = payment_service(external(ScriptedPort(PROCESSING)))
    payment, _ = await h.service.submit(command())
    failed = await h.service.apply_result(payment.id, REFUSED, via="notification")
    assert (failed.status, failed.failure_code) == (PaymentStatus.FAILED, "ACCOUNT_CLOSED")
    [event] = h.state.outbox
    assert (event["app_id"], event["event_type"], event["subject_id"]) == (
        "app",
        "payment.failed",
        payment.id,
    )
    payload = event["payload"]
    assert payload["payment"]["status"] == "failed" and payload["payment"]["out_request_no"] == "r-1"
    assert h.state.schedules[payment.id]["next_query_at"] is None


async def test_payment_without_webhook_is_not_announced() -> None:
    h = payment_service(external(ScriptedPort(PAID)))
    await h.service.submit(command(details={"notify": False}))
    assert h.state.outbox == []


async def test_listeners_move_with_the_payment_and_one_added_later_is_called_too() -> None:
    moved: list[tuple[str, PaymentStatus]] = []
    first, later = Recording("first", moved), Recording("later", moved)
    h = payment_service(external(ScriptedPort(PROCESSING)), listeners=[first])
    payment, _ = await h.service.submit(command())
    h.service.listeners.append(later)
    await h.service.apply_result(payment.id, PAID, via="query")
    assert moved == [
        ("first", PaymentStatus.PROCESSING),
        ("first", PaymentStatus.SUCCEEDED),
        ("later", PaymentStatus.SUCCEEDED),
    ]


async def test_answer_contradicting_a_final_payment_changes_nothing_and_asks_an_operator() -> None:
    h = payment_service(external(ScriptedPort(PAID)))
    payment, _ = await h.service.submit(command())
    answer = await h.service.apply_result(payment.id, REFUSED, via="notification")
    assert answer.status is PaymentStatus.SUCCEEDED
    assert h.state.payments[payment.id].status is PaymentStatus.SUCCEEDED
    assert [r.outcome.value for r in h.flow.records if r.subject_id == payment.id][-1] == "failed"
    assert len(h.state.outbox) == 1

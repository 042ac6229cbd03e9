"""Specification of applying a channel's answer (core.usecases.payments.results), on fakes."""

from __future__ import annotations

from datetime import datetime

from fakes.channels import ScriptedPort, external
from fakes.services import PaymentHarness, command, payment_service

from core.flowlog import FlowNode
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


class ReturnRecording(Recording):
    """A listener that also learns late returns; it changes something only the first time."""

    def __init__(self, moved: list[tuple[str, PaymentStatus]]) -> None:
        super().__init__("returns", moved)
        self.returns: list[tuple[PaymentStatus, str | None, str | None]] = []

    async def returned(
        self, uow: UnitOfWork, payment: Payment, at: datetime, *, code: str | None, message: str | None
    ) -> bool:
        self.returns.append((payment.status, code, message))
        return len(self.returns) == 1


RETURNED = ChannelResult(ChannelStatus.RETURNED, channel_ref="B-1", code="REFUND", message="card bounced")


def returned_nodes(h: PaymentHarness, payment_id: str) -> list[str]:
    return [r.message for r in h.flow.records if r.subject_id == payment_id and r.node is FlowNode.RETURNED]


async def test_a_return_after_success_leaves_the_payment_succeeded_and_tells_the_workflow_once() -> None:
    listener = ReturnRecording([])
    h = payment_service(external(ScriptedPort(PAID)), listeners=[listener])
    payment, _ = await h.service.submit(command())

    first = await h.service.apply_result(payment.id, RETURNED, via="notification")
    again = await h.service.apply_result(payment.id, RETURNED, via="query")

    assert first.status is again.status is PaymentStatus.SUCCEEDED
    assert h.state.payments[payment.id].status is PaymentStatus.SUCCEEDED
    assert listener.returns == [(PaymentStatus.SUCCEEDED, "REFUND", "card bounced")] * 2
    assert returned_nodes(h, payment.id) == ["the channel returned the paid money: card bounced"]
    assert h.state.events() == ["payment.succeeded"]  # no payment event for the fact


async def test_a_return_of_an_open_payment_makes_it_succeeded_then_tells_the_workflow() -> None:
    moved: list[tuple[str, PaymentStatus]] = []
    listener = ReturnRecording(moved)
    h = payment_service(external(ScriptedPort(PROCESSING)), listeners=[listener])
    payment, _ = await h.service.submit(command())

    answer = await h.service.apply_result(payment.id, RETURNED, via="query")

    assert answer.status is PaymentStatus.SUCCEEDED
    assert moved[-1] == ("returns", PaymentStatus.SUCCEEDED)
    assert listener.returns == [(PaymentStatus.SUCCEEDED, "REFUND", "card bounced")]
    assert len(returned_nodes(h, payment.id)) == 1


async def test_a_return_of_a_failed_payment_is_a_contradiction_for_operators() -> None:
    listener = ReturnRecording([])
    h = payment_service(external(ScriptedPort(REFUSED)), listeners=[listener])
    payment, _ = await h.service.submit(command())

    answer = await h.service.apply_result(payment.id, RETURNED, via="notification")

    assert answer.status is PaymentStatus.FAILED and listener.returns == []
    assert returned_nodes(h, payment.id) == []
    assert [r.outcome.value for r in h.flow.records if r.subject_id == payment.id][-1] == "failed"

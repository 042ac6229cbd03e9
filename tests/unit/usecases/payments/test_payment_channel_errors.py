"""Specification of what a failed channel call means (core.usecases.payments.calls), on fakes:
nothing sent is failed with the adapter's code; anything after sending is unknown and queried."""

from __future__ import annotations

from fakes.channels import ScriptedPort, external
from fakes.services import command
from fakes.services import payment_service as harness

from core.payments.model import Payment, PaymentStatus
from ports.channels import ChannelResult, ChannelStatus, OutcomeUnknown, RequestNotSent
from ports.storage import UnitOfWork

UNKNOWN = ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT")


async def test_request_not_sent_fails_the_payment_with_its_code_and_schedules_no_query() -> None:
    heard: list[PaymentStatus] = []

    async def listener(uow: UnitOfWork, payment: Payment) -> None:
        heard.append(payment.status)

    port = ScriptedPort(RequestNotSent("PAYEE_NOT_ENCODABLE", "payee name has characters the bank refuses"))
    h = harness(external(port), listeners=[listener])
    payment, created = await h.service.submit(command())
    assert created and (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "PAYEE_NOT_ENCODABLE")
    assert payment.failure_message == "payee name has characters the bank refuses"
    assert h.state.schedules[payment.id]["next_query_at"] is None
    assert h.state.events() == ["payment.failed"]
    assert heard == [PaymentStatus.FAILED]
    assert h.nodes(payment.id)[-1] == "final_state"


async def test_request_not_sent_without_a_message_says_which_channel_refused_it() -> None:
    h = harness(external(ScriptedPort(RequestNotSent("MISSING_SETTING"))))
    payment, _ = await h.service.submit(command())
    assert (payment.failure_code, payment.failure_message) == ("MISSING_SETTING", "request not sent to bank")


async def test_plain_error_after_sending_leaves_the_outcome_unknown_and_queried() -> None:
    h = harness(external(ScriptedPort(ConnectionResetError())), steps=(10, 60))
    payment, _ = await h.service.submit(command())
    assert (payment.status, payment.failure_code) == (PaymentStatus.UNKNOWN, None)
    assert h.state.schedules[payment.id]["next_query_at"] is not None
    assert h.state.events() == []


async def test_outcome_unknown_keeps_the_adapters_code_and_is_queried() -> None:
    port = ScriptedPort(OutcomeUnknown("READ_TIMEOUT", "bank closed the connection"), UNKNOWN)
    h = harness(external(port))
    payment, _ = await h.service.submit(command())
    assert payment.status is PaymentStatus.UNKNOWN
    assert h.state.schedules[payment.id]["next_query_at"] is not None
    answer = next(
        r for r in h.flow.records if r.subject_id == payment.id and r.node.value == "channel_answer"
    )
    assert answer.message == "unknown: READ_TIMEOUT"


async def test_timeout_is_unknown_even_when_the_adapter_raises_it_itself() -> None:
    h = harness(external(ScriptedPort(TimeoutError())))
    payment, _ = await h.service.submit(command())
    assert payment.status is PaymentStatus.UNKNOWN


async def test_query_that_was_not_sent_never_fails_the_payment() -> None:
    port = ScriptedPort(UNKNOWN, RequestNotSent("NO_CONNECTION"))
    h = harness(external(port))
    payment, _ = await h.service.submit(command())
    after = await h.service.resolve(payment, attempts=0)
    assert (after.status, after.failure_code) == (PaymentStatus.UNKNOWN, None)
    assert h.state.schedules[payment.id]["query_attempts"] == 1

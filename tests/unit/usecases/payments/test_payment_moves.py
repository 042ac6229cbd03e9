"""Every move of a payment reaches its listeners, once, in the transaction that stores it: the
submit answer, an applied channel result (callback) and a query that resolves it (on fakes)."""

from __future__ import annotations

import itertools

import pytest
from fakes.channels import ScriptedPort, external
from fakes.services import PaymentHarness as Harness
from fakes.services import command
from fakes.services import payment_service as harness

from core.payments.model import PAYMENT_STATES, Payment, PaymentStatus
from ports.channels import ChannelResult, ChannelStatus
from ports.storage import UnitOfWork

ANSWER = {
    PaymentStatus.PROCESSING: ChannelResult(ChannelStatus.PROCESSING, channel_ref="B-1"),
    PaymentStatus.UNKNOWN: ChannelResult(ChannelStatus.UNKNOWN, code="TIMEOUT"),
    PaymentStatus.SUCCEEDED: ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="B-1"),
    PaymentStatus.FAILED: ChannelResult(ChannelStatus.FAILED, code="DECLINED", message="declined"),
}
MOVES = [(a, b) for a, b in itertools.product(PaymentStatus, PaymentStatus) if PAYMENT_STATES.can(a, b)]
OPEN_MOVES = [(a, b) for a, b in MOVES if a is not PaymentStatus.CREATED]


class Heard:
    """A listener that keeps the moves it heard."""

    def __init__(self) -> None:
        self.moves: list[tuple[str, PaymentStatus]] = []

    async def __call__(self, uow: UnitOfWork, payment: Payment) -> None:
        self.moves.append((payment.id, payment.status))


def test_every_state_but_a_final_one_can_be_left() -> None:
    assert len(MOVES) == 10, "the cases below cover each move of the payment state machine"


@pytest.mark.parametrize(("target"), [b for a, b in MOVES if a is PaymentStatus.CREATED])
async def test_submit_answer_reaches_the_listeners(target: PaymentStatus) -> None:
    heard = Heard()
    h = harness(external(ScriptedPort(ANSWER[target])), listeners=[heard])
    payment, _ = await h.service.submit(command())
    assert payment.status is target
    assert heard.moves == [(payment.id, target)]


async def _in(source: PaymentStatus, then: ChannelResult) -> tuple[Harness, Heard, Payment]:
    heard = Heard()
    h = harness(external(ScriptedPort(ANSWER[source], then)), listeners=[heard])
    payment, _ = await h.service.submit(command())
    assert payment.status is source
    heard.moves.clear()
    return h, heard, payment


@pytest.mark.parametrize(("source", "target"), OPEN_MOVES)
async def test_query_answer_reaches_the_listeners(source: PaymentStatus, target: PaymentStatus) -> None:
    h, heard, payment = await _in(source, ANSWER[target])
    moved = await h.service.resolve(payment, attempts=0)
    assert moved.status is target and h.state.payments[payment.id].status is target
    assert heard.moves == [(payment.id, target)]


@pytest.mark.parametrize(("source", "target"), OPEN_MOVES)
async def test_callback_result_reaches_the_listeners(source: PaymentStatus, target: PaymentStatus) -> None:
    h, heard, payment = await _in(source, ANSWER[source])
    moved = await h.service.apply_result(payment.id, ANSWER[target], via="notification")
    assert moved.status is target
    assert heard.moves == [(payment.id, target)]


async def test_query_that_learns_nothing_new_tells_the_listeners_nothing() -> None:
    h, heard, payment = await _in(PaymentStatus.UNKNOWN, ANSWER[PaymentStatus.UNKNOWN])
    again = await h.service.resolve(payment, attempts=0)
    assert again.status is PaymentStatus.UNKNOWN and heard.moves == []
    assert h.state.schedules[payment.id]["query_attempts"] == 1


async def test_listener_that_fails_rolls_the_move_back() -> None:
    async def broken(uow: UnitOfWork, payment: Payment) -> None:
        if payment.status is PaymentStatus.PROCESSING:
            raise RuntimeError("listener failed")

    h = harness(
        external(ScriptedPort(ANSWER[PaymentStatus.UNKNOWN], ANSWER[PaymentStatus.PROCESSING])),
        listeners=[broken],
    )
    payment, _ = await h.service.submit(command())
    with pytest.raises(RuntimeError):
        await h.service.resolve(payment, attempts=0)
    assert h.state.payments[payment.id].status is PaymentStatus.UNKNOWN
    assert h.state.schedules[payment.id]["query_attempts"] == 0

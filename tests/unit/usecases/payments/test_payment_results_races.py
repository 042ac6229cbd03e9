"""Applying a channel's answer that loses its conditional update to a concurrent writer: it is
read and applied again, and gives up with a 409 after the bounded attempts, changing nothing."""

from __future__ import annotations

import pytest
from fakes.channels import ScriptedPort, external
from fakes.services import command
from fakes.services import payment_service as harness

from core.errors import Conflict
from core.payments.model import Payment, PaymentStatus
from core.usecases.shared.conflicts import ATTEMPTS
from ports.channels import ChannelResult, ChannelStatus
from ports.storage import ConcurrentUpdate, UnitOfWork

PROCESSING = ChannelResult(ChannelStatus.PROCESSING, channel_ref="B-1")
PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="B-1")


async def test_an_answer_that_lost_a_race_is_applied_again_and_announced_once() -> None:
    left = [ATTEMPTS - 1]

    async def loses_races(uow: UnitOfWork, payment: Payment) -> None:
        if payment.is_final and left[0] > 0:
            left[0] -= 1
            raise ConcurrentUpdate(payment.id)

    h = harness(external(ScriptedPort(PROCESSING)), listeners=[loses_races])
    payment, _ = await h.service.submit(command())
    paid = await h.service.apply_result(payment.id, PAID, via="query")
    assert paid.status is PaymentStatus.SUCCEEDED and left == [0]
    assert h.state.events() == ["payment.succeeded"]


async def test_an_answer_that_loses_every_race_is_a_conflict_and_changes_nothing() -> None:
    async def always_loses(uow: UnitOfWork, payment: Payment) -> None:
        if payment.is_final:
            raise ConcurrentUpdate(payment.id)

    h = harness(external(ScriptedPort(PROCESSING)), listeners=[always_loses])
    payment, _ = await h.service.submit(command())
    with pytest.raises(Conflict) as raised:
        await h.service.apply_result(payment.id, PAID, via="query")
    assert raised.value.code == "CONCURRENT_UPDATE"
    assert h.state.payments[payment.id].status is PaymentStatus.PROCESSING and h.state.events() == []

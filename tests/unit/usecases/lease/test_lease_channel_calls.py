"""Specification of the lease channel calls (core.usecases.lease.channel) on the fakes: what
each answer of an operation means for its caller, what is logged, and what is kept."""

from __future__ import annotations

import asyncio

import pytest
from fakes.workflows import LeaseWorld, lease_world
from lease_builders import new_order

from core.lease.errors import ChannelOutcomeUnknown, ChannelRefused
from core.lease.order import LeaseOrder
from ports.channels import ChannelStatus, Exchange
from ports.lease import LeaseAnswer


def world() -> tuple[LeaseWorld, LeaseOrder]:
    order = new_order()
    return lease_world(order), order


async def test_a_done_operation_is_logged_and_its_exchanges_are_kept() -> None:
    w, order = world()
    exchange = Exchange("sync", "<req/>", "<ok/>")
    w.port.answers["sync_order"] = LeaseAnswer(ChannelStatus.SUCCEEDED, exchanges=(exchange,))
    answer = await w.calls.operate(order, "sync pre-order", w.port.sync_order(order))
    assert answer.status is ChannelStatus.SUCCEEDED
    assert [(s, c, e) for s, c, e, _ in w.storage.state.exchanges] == [(order.id, "ant_lease", exchange)]
    assert w.pay.nodes(order.id) == ["channel_request", "channel_answer"]


async def test_a_refusal_raises_the_channels_code_and_an_unknown_answer_asks_for_a_repeat() -> None:
    w, order = world()
    w.port.answers["close_order"] = LeaseAnswer(ChannelStatus.FAILED, code="ORDER_NOT_EXIST")
    with pytest.raises(ChannelRefused) as refused:
        await w.calls.operate(order, "close", w.port.close_order(order, "done"))
    assert "ORDER_NOT_EXIST" in refused.value.message
    w.port.answers["close_order"] = LeaseAnswer(ChannelStatus.UNKNOWN, code="TIMEOUT")
    with pytest.raises(ChannelOutcomeUnknown):
        await w.calls.operate(order, "close", w.port.close_order(order, "done"))


async def test_a_call_that_does_not_answer_in_time_is_unknown() -> None:
    w, order = world()
    w.calls.timeout = 0.01

    async def hangs() -> LeaseAnswer:
        await asyncio.Event().wait()
        raise AssertionError("never answers")

    with pytest.raises(ChannelOutcomeUnknown):
        await w.calls.operate(order, "sync pre-order", hangs())

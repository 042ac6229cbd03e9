"""Specification, on the fakes: a trade paid on a channel that answers later follows its payment
by itself, in the transaction that moves the payment (a query's answer, a verified callback,
two operators' resolve), with no repeated pay request: paying → paid | failed; an unknown
answer leaves it paying; a repeat (of the listener, of the pay request) changes nothing; a
return after success leaves it paid."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes.channels import ScriptedPort, external, ledger
from fakes.ops import operator, resolve_world
from fakes.services import PaymentHarness, payment_service, seed_account
from fakes.trades import FakeTrades

from core.general_pay.trade import Trade, TradePay, TradeStatus, TradeTerms
from core.money import Money
from core.payments.model import Payment, PaymentStatus
from core.usecases.trades.listener import TradePaymentListener
from core.usecases.trades.service import TradeService
from ports.channels import ChannelNotification, ChannelResult, ChannelStatus

WORKING = ChannelResult(ChannelStatus.PROCESSING, channel_ref="BANK-1")
UNKNOWN = ChannelResult(ChannelStatus.UNKNOWN, code="SYSTEM_ERROR")
PAID = ChannelResult(ChannelStatus.SUCCEEDED, channel_ref="BANK-1")
FAILED = ChannelResult(ChannelStatus.FAILED, code="ACCOUNT_FROZEN", message="payee frozen")
RETURNED = ChannelResult(ChannelStatus.RETURNED, code="REFUND", message="the bank sent it back")


class World:
    """A trade service over a ledger and a bank that answers later (its script: `answers`)."""

    def __init__(self, *answers: ChannelResult) -> None:
        self.bank = ScriptedPort(*answers)
        channels = (ledger(ScriptedPort(PAID)), external(self.bank))
        self.listener = TradePaymentListener({c.code: c for c in channels})
        self.pay: PaymentHarness = payment_service(*channels, listeners=[self.listener])
        for account in ("buyer", "seller"):
            seed_account(self.pay.storage, account, available=100_000)
        self.service = TradeService(FakeTrades(self.pay.storage), self.pay.service, self.pay.clock)

    async def paying(self) -> tuple[str, Payment]:
        """A trade paid on the bank, its payment still with it."""
        terms = TradeTerms("buyer", "seller", Money(10_000, "CNY"), "bank")
        trade, _ = await self.service.create("app", "T-1", "h-1", terms)
        paid = await self.service.pay("app", trade.id, TradePay(), "p-1")
        assert (paid.trade.status, paid.payment.status) == (TradeStatus.PAYING, PaymentStatus.PROCESSING)
        assert paid.trade.payment_id == paid.payment.id
        return trade.id, paid.payment

    def trade(self, trade_id: str) -> Trade:
        """The trade as committed."""
        return self.pay.state.trades[trade_id]

    def payment(self, payment_id: str) -> Payment:
        return self.pay.state.payments[payment_id]


async def test_a_query_that_finds_the_payment_paid_pays_the_trade() -> None:
    w = World(WORKING, PAID)
    trade_id, payment = await w.paying()
    await w.pay.service.resolve(payment, attempts=0)
    trade, paid = w.trade(trade_id), w.payment(payment.id)
    assert (trade.status, trade.payment_id) == (TradeStatus.PAID, payment.id)
    assert trade.updated_at == paid.updated_at  # moved by the transaction that moved the payment
    assert (await w.service.get(trade_id, "app")).status is TradeStatus.PAID


async def test_a_definite_failure_fails_the_trade() -> None:
    w = World(WORKING, FAILED)
    trade_id, payment = await w.paying()
    await w.pay.service.resolve(payment, attempts=0)
    assert w.payment(payment.id).status is PaymentStatus.FAILED
    assert w.trade(trade_id).status is TradeStatus.FAILED


async def test_an_unknown_answer_leaves_the_trade_paying_until_a_final_one() -> None:
    w = World(WORKING, UNKNOWN, PAID)
    trade_id, payment = await w.paying()
    before = w.trade(trade_id)
    await w.pay.service.resolve(payment, attempts=0)
    assert w.payment(payment.id).status is PaymentStatus.UNKNOWN
    assert w.trade(trade_id) == before  # unchanged, its time included
    await w.pay.service.resolve(w.payment(payment.id), attempts=1)
    assert w.trade(trade_id).status is TradeStatus.PAID


async def test_a_verified_callback_pays_the_trade() -> None:
    w = World(WORKING)
    trade_id, payment = await w.paying()
    await w.pay.service.apply_notice("bank", ChannelNotification(payment.id, PAID))
    assert w.trade(trade_id).status is TradeStatus.PAID


@pytest.mark.parametrize(
    ("decision", "expected"), [("succeeded", TradeStatus.PAID), ("failed", TradeStatus.FAILED)]
)
async def test_two_operators_resolving_its_escalated_payment_decide_the_trade(
    decision: str, expected: TradeStatus
) -> None:
    w = World(WORKING, UNKNOWN)
    trade_id, payment = await w.paying()
    await w.pay.service.resolve(payment, attempts=1)  # the schedule's last step: escalated
    assert w.trade(trade_id).status is TradeStatus.PAYING
    r = resolve_world(w.pay)
    approval = await r.propose(payment.id, decision, operator("alice"))
    await r.work()  # the approvals worker's fresh query: still unknown
    await r.approvals.confirm(approval.id, operator("bob"))
    await r.work()  # the worker runs the decision
    assert w.trade(trade_id).status is expected


async def test_the_trade_moves_in_the_payments_transaction_or_not_at_all() -> None:
    w = World(WORKING, PAID)
    trade_id, payment = await w.paying()
    w.pay.state.races.lose("trades")  # the trade's conditional update loses once: all rolls back
    await w.pay.service.resolve(payment, attempts=0)
    assert (w.trade(trade_id).status, w.payment(payment.id).status) == (
        TradeStatus.PAID,
        PaymentStatus.SUCCEEDED,
    )
    assert w.pay.state.events(payment.id) == ["payment.succeeded"]  # announced once


async def test_a_repeated_listener_call_or_pay_request_changes_nothing() -> None:
    w = World(WORKING, PAID)
    trade_id, payment = await w.paying()
    await w.pay.service.resolve(payment, attempts=0)
    paid = w.trade(trade_id)
    async with w.pay.storage.uow() as uow:
        await w.listener(uow, w.payment(payment.id))
        await uow.commit()
    assert w.trade(trade_id) == paid
    again = await w.service.pay("app", trade_id, TradePay(), "p-1")
    assert (again.created, again.trade, again.payment.id) == (False, paid, payment.id)
    assert w.trade(trade_id) == paid and len(w.pay.state.payments) == 1


async def test_a_return_after_success_leaves_the_trade_paid() -> None:
    w = World(WORKING, PAID)
    trade_id, payment = await w.paying()
    await w.pay.service.resolve(payment, attempts=0)
    paid = w.trade(trade_id)
    await w.pay.service.apply_result(payment.id, RETURNED, via="notification")
    assert w.payment(payment.id).status is PaymentStatus.SUCCEEDED
    assert w.trade(trade_id) == paid  # paid is final: the return is the payment's flow log's news


async def test_a_final_trade_is_not_moved_by_a_payment_that_contradicts_it() -> None:
    w = World(WORKING, PAID)
    trade_id, payment = await w.paying()
    await w.pay.service.resolve(payment, attempts=0)
    paid = w.trade(trade_id)
    failed = replace(w.payment(payment.id), status=PaymentStatus.FAILED)
    async with w.pay.storage.uow() as uow:
        await w.listener(uow, failed)
        await uow.commit()
    assert w.trade(trade_id) == paid


async def test_the_ledgers_payments_are_not_followed_and_the_pay_request_moves_the_trade() -> None:
    w = World()
    terms = TradeTerms("buyer", "seller", Money(10_000, "CNY"), "transfer")
    trade, _ = await w.service.create("app", "T-2", "h-2", terms)
    paid = await w.service.pay("app", trade.id, TradePay(), "p-2")
    assert (paid.payment.channel, paid.trade.status) == ("ledger", TradeStatus.PAID)
    assert not w.listener.follows(paid.payment)
    assert w.trade(trade.id).status is TradeStatus.PAID

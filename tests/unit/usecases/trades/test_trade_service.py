"""Specification of seed-003 trades (core.usecases.trades) on the fakes: a trade is stored with
its terms, then paid once with the request's overrides, its pay mode checked against the stored
template and its pay solution loaded when it is a multiple trade."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from fakes.channels import ScriptedPort, ledger
from fakes.services import PaymentHarness, payment_service, seed_account
from fakes.trades import FakeTrades

from core.errors import BusinessRuleViolation, Conflict, IdempotencyConflict, InvalidArgument, NotFound
from core.general_pay.model import FeeType, MerchantLevel, SettlementType, UpperMerchant
from core.general_pay.trade import ParallelType, PaySolution, TradeFlags, TradePay, TradeStatus, TradeTerms
from core.money import Money
from core.usecases.trades.listener import TradePaymentListener
from core.usecases.trades.service import TradeService
from ports.channels import ChannelResult, ChannelStatus

PAID = ChannelResult(ChannelStatus.SUCCEEDED)
FAILED = ChannelResult(ChannelStatus.FAILED, code="INSUFFICIENT_FUNDS", message="no money")


def cny(minor: int) -> Money:
    return Money(minor, "CNY")


def terms(**changes: object) -> TradeTerms:
    base = TradeTerms(
        "buyer",
        "seller",
        cny(10_000),
        "transfer",
        fee_amount=cny(300),
        fee_account_id="wallet",
        payment_mode="balance",
        flags=TradeFlags(need_share_profit=True, client_source="app", special_code="SC1", recvable_id="R1"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class World:
    def __init__(self, *answers: ChannelResult) -> None:
        self.port = ScriptedPort(*(answers or (PAID,)))
        # the trade listener installed, as the gateway does: it leaves the ledger's payments alone
        channel = ledger(self.port)
        self.pay: PaymentHarness = payment_service(
            channel, listeners=[TradePaymentListener({channel.code: channel})]
        )
        for account in ("buyer", "seller", "wallet", "wallet2", "mid", "top"):
            seed_account(self.pay.storage, account, available=100_000)
        self.store = FakeTrades(self.pay.storage)
        self.service = TradeService(self.store, self.pay.service, self.pay.clock)

    async def trade(self, **changes: object) -> str:
        trade, created = await self.service.create("app", "T-1", "h-1", terms(**changes))
        assert created
        return trade.id

    def sent(self) -> dict[str, object]:
        [request] = self.port.calls
        return dict(request.details)


async def test_a_trade_is_stored_with_its_terms_and_flags_before_any_payment() -> None:
    w = World()
    trade_id = await w.trade()
    trade = await w.service.get(trade_id, "app")
    assert (trade.status, trade.payment_id) == (TradeStatus.CREATED, None)
    assert trade.terms.flags.special_code == "SC1" and trade.terms.fee_amount == cny(300)
    assert not w.port.calls and not w.pay.state.payments


async def test_creating_again_answers_the_first_trade_or_a_conflict() -> None:
    w = World()
    first, _ = await w.service.create("app", "T-1", "h-1", terms())
    again, created = await w.service.create("app", "T-1", "h-1", terms())
    assert (again, created) == (first, False)
    with pytest.raises(IdempotencyConflict):
        await w.service.create("app", "T-1", "h-2", terms(cash_amount=cny(1)))


async def test_another_apps_trade_is_not_found() -> None:
    w = World()
    trade_id = await w.trade()
    with pytest.raises(NotFound) as refused:
        await w.service.get(trade_id, "other")
    assert refused.value.code == "TRADE_NOT_FOUND"


async def test_paying_carries_the_stored_terms_when_nothing_is_overridden() -> None:
    w = World()
    trade_id = await w.trade()
    paid = await w.service.pay("app", trade_id, TradePay(), "p-1")
    assert paid.created and paid.trade.status is TradeStatus.PAID
    assert paid.trade.payment_id == paid.payment.id
    assert paid.payment.out_request_no == f"trade/{trade_id}"
    assert w.sent() == {
        "settlement": "realtime",
        "fee": {"amount": "3.00", "account": "wallet"},
        "trade_id": trade_id,
    }


async def test_the_request_overrides_channel_settlement_fee_amount_and_fee_account() -> None:
    w = World()
    trade_id = await w.trade()
    pay = TradePay(
        channel="ledger",
        settlement_type=SettlementType.ASYNC,
        fee_amount=cny(120),
        fee_account_id="wallet2",
        fee_type=FeeType.DEDUCTED,
        fee_settlement_type=SettlementType.ASYNC,
        pay_mode="balance",
    )
    await w.service.pay("app", trade_id, pay, "p-1")
    assert w.sent()["settlement"] == "async"
    assert w.sent()["fee"] == {
        "amount": "1.20",
        "account": "wallet2",
        "type": "deducted",
        "settlement": "async",
        "pay_mode": "balance",
    }
    assert (await w.service.get(trade_id, "app")).terms.fee_amount == cny(300)  # the trade is unchanged


async def test_a_pay_mode_other_than_the_stored_template_is_refused_before_any_payment() -> None:
    w = World()
    trade_id = await w.trade()
    with pytest.raises(BusinessRuleViolation) as refused:
        await w.service.pay("app", trade_id, TradePay(pay_mode="card", fee_type=FeeType.DEDUCTED), "p-1")
    assert (refused.value.code, refused.value.field) == ("PAY_MODE_MISMATCH", "fee.pay_mode")
    assert not w.port.calls and (await w.service.get(trade_id, "app")).status is TradeStatus.CREATED


async def test_a_multiple_trade_pays_along_its_stored_pay_solution() -> None:
    w = World()
    solution = PaySolution(
        (
            UpperMerchant("mid", MerchantLevel.MIDDLE, cny(200), cny(0)),
            UpperMerchant("top", MerchantLevel.TOP, cny(120), cny(200)),
        ),
        ("mid", "top"),
    )
    trade_id = await w.trade(parallel_type=ParallelType.MULTIPLE, pay_solution=solution)
    await w.service.pay("app", trade_id, TradePay(), "p-1")
    sent = w.sent()
    assert sent["fee_solution"] == ["mid", "top"]
    assert sent["upper_merchants"] == [
        {"account": "mid", "level": 1, "fee_amount": "2.00", "fee_plus_amount": "0.00"},
        {"account": "top", "level": 2, "fee_amount": "1.20", "fee_plus_amount": "2.00"},
    ]


async def test_a_single_trade_sends_no_solution_and_a_pay_solution_needs_a_multiple_trade() -> None:
    w = World()
    trade_id = await w.trade()
    await w.service.pay("app", trade_id, TradePay(), "p-1")
    assert "upper_merchants" not in w.sent()
    with pytest.raises(InvalidArgument) as refused:
        await w.service.create("app", "T-2", "h", terms(parallel_type=ParallelType.MULTIPLE))
    assert refused.value.code == "PAY_SOLUTION_REQUIRED"


async def test_a_trade_is_paid_once_a_repeat_answers_the_first_payment_and_another_request_conflicts() -> (
    None
):
    w = World()
    trade_id = await w.trade()
    first = await w.service.pay("app", trade_id, TradePay(), "p-1")
    repeat = await w.service.pay("app", trade_id, TradePay(), "p-1")
    assert (repeat.payment.id, repeat.created) == (first.payment.id, False)
    with pytest.raises(Conflict) as refused:
        await w.service.pay("app", trade_id, TradePay(fee_amount=cny(1)), "p-2")
    assert refused.value.code == "TRADE_ALREADY_PAID"
    assert len(w.pay.state.payments) == 1


async def test_concurrent_pay_requests_make_exactly_one_payment() -> None:
    w = World()
    trade_id = await w.trade()
    outcomes = await asyncio.gather(
        *(w.service.pay("app", trade_id, TradePay(fee_amount=cny(n)), f"p-{n}") for n in range(1, 6)),
        return_exceptions=True,
    )
    paid = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(paid), len(refused)) == (1, 4)
    assert len(w.pay.state.payments) == 1
    assert (await w.service.get(trade_id, "app")).payment_id == paid[0].payment.id


async def test_a_failed_payment_fails_the_trade() -> None:
    w = World(FAILED)
    trade_id = await w.trade()
    paid = await w.service.pay("app", trade_id, TradePay(), "p-1")
    assert paid.trade.status is TradeStatus.FAILED
    assert (await w.service.get(trade_id, "app")).status is TradeStatus.FAILED


async def test_a_trade_left_behind_its_committed_ledger_payment_catches_up_when_read() -> None:
    """A ledger payment commits in a transaction that cannot carry the trade, which moves right
    after: a crash in between leaves the trade `created` behind its paid payment. The next read
    of the trade (or pay request) brings it up to date, by the same conditional update."""
    w = World()
    trade_id = await w.trade()
    moves = w.store.record_payment

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process stopped here")

    w.store.record_payment = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await w.service.pay("app", trade_id, TradePay(), "p-1")
    w.store.record_payment = moves  # type: ignore[method-assign]
    behind = await w.store.get(trade_id)
    assert behind is not None and behind.status is TradeStatus.CREATED

    read = await w.service.get(trade_id, "app")

    assert read.status is TradeStatus.PAID and read.payment_id is not None
    stored = await w.store.get(trade_id)
    assert stored is not None and stored.status is TradeStatus.PAID
    again = await w.service.pay("app", trade_id, TradePay(), "p-1")  # the repeat answers it, once
    assert (again.trade.status, again.created) == (TradeStatus.PAID, False)
    assert len(w.pay.state.payments) == 1  # paid once


async def test_two_reads_catching_up_the_same_trade_at_once_move_it_once() -> None:
    w = World()
    trade_id = await w.trade()
    moves = w.store.record_payment
    calls: list[str] = []

    async def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the process stopped here")

    async def counted(*args: object, **kwargs: object) -> None:
        calls.append("move")
        await asyncio.sleep(0)  # the other read runs meanwhile
        await moves(*args, **kwargs)  # type: ignore[arg-type]

    w.store.record_payment = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await w.service.pay("app", trade_id, TradePay(), "p-1")
    w.store.record_payment = counted  # type: ignore[method-assign]

    first, second = await asyncio.gather(w.service.get(trade_id, "app"), w.service.get(trade_id, "app"))

    assert first.status is TradeStatus.PAID and second.status is TradeStatus.PAID
    assert first.payment_id == second.payment_id is not None
    assert len(w.pay.state.payments) == 1

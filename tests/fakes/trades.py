"""The in-memory trades: the repository inside a fake unit of work (ports.trades.TradeRepository)
and the store over the fake storage, each call its own unit of work (ports.trades.TradeStore)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from core.general_pay.trade import Trade, TradeStatus
from ports.storage import ConcurrentUpdate, DuplicateRequest
from ports.trades import TradeRepository, TradeStore

if TYPE_CHECKING:
    from fakes.storage import FakeState, FakeStorage


class FakeTradeRows(TradeRepository):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    async def add(self, trade: Trade) -> None:
        taken = (
            t
            for t in self.state.trades.values()
            if (t.app_id, t.out_trade_no) == (trade.app_id, trade.out_trade_no)
        )
        if trade.id in self.state.trades or next(taken, None) is not None:
            raise DuplicateRequest(trade.out_trade_no)
        self.state.trades[trade.id] = trade

    async def get_for_update(self, trade_id: str) -> Trade | None:
        return self.state.trades.get(trade_id)

    async def record_payment(
        self, trade_id: str, payment_id: str, status: TradeStatus, *, at: datetime, expected: TradeStatus
    ) -> None:
        if self.state.races.lost("trades"):
            raise ConcurrentUpdate(trade_id)
        stored = self.state.trades.get(trade_id)
        if stored is None or stored.status is not expected:
            raise ConcurrentUpdate(trade_id)
        self.state.trades[trade_id] = replace(stored, status=status, payment_id=payment_id, updated_at=at)


class FakeTrades(TradeStore):
    def __init__(self, storage: FakeStorage) -> None:
        self.storage = storage

    async def add(self, trade: Trade) -> None:
        async with self.storage.uow() as uow:
            await uow.trades.add(trade)
            await uow.commit()

    async def get(self, trade_id: str) -> Trade | None:
        return self.storage.state.trades.get(trade_id)

    async def by_out_trade_no(self, app_id: str, out_trade_no: str) -> Trade | None:
        trades = self.storage.state.trades.values()
        found = (t for t in trades if (t.app_id, t.out_trade_no) == (app_id, out_trade_no))
        return next(found, None)

    async def record_payment(
        self, trade_id: str, payment_id: str, status: TradeStatus, *, at: datetime, expected: TradeStatus
    ) -> None:
        async with self.storage.uow() as uow:
            await uow.trades.record_payment(trade_id, payment_id, status, at=at, expected=expected)
            await uow.commit()

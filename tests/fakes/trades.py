"""The in-memory trade store (ports.trades.TradeStore)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.general_pay.trade import Trade, TradeStatus
from ports.storage import ConcurrentUpdate, DuplicateRequest
from ports.trades import TradeStore


class FakeTrades(TradeStore):
    def __init__(self) -> None:
        self.trades: dict[str, Trade] = {}

    async def add(self, trade: Trade) -> None:
        if trade.id in self.trades or await self.by_out_trade_no(trade.app_id, trade.out_trade_no):
            raise DuplicateRequest(trade.out_trade_no)
        self.trades[trade.id] = trade

    async def get(self, trade_id: str) -> Trade | None:
        return self.trades.get(trade_id)

    async def by_out_trade_no(self, app_id: str, out_trade_no: str) -> Trade | None:
        found = (t for t in self.trades.values() if (t.app_id, t.out_trade_no) == (app_id, out_trade_no))
        return next(found, None)

    async def record_payment(
        self, trade_id: str, payment_id: str, status: TradeStatus, *, at: datetime, expected: TradeStatus
    ) -> None:
        stored = self.trades.get(trade_id)
        if stored is None or stored.status is not expected:
            raise ConcurrentUpdate(trade_id)
        self.trades[trade_id] = replace(stored, status=status, payment_id=payment_id, updated_at=at)

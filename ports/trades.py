"""The trade store: seed-003 trades kept before their payment, each call its own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.general_pay.trade import Trade, TradeStatus


class TradeStore(Protocol):
    async def add(self, trade: Trade) -> None:
        """Store a new trade; `DuplicateRequest` when the app already used its out_trade_no."""
        ...

    async def get(self, trade_id: str) -> Trade | None: ...

    async def by_out_trade_no(self, app_id: str, out_trade_no: str) -> Trade | None: ...

    async def record_payment(
        self, trade_id: str, payment_id: str, status: TradeStatus, *, at: datetime, expected: TradeStatus
    ) -> None:
        """Move the trade to `status` with its payment, only from `expected` (a conditional
        update); `ConcurrentUpdate` when the trade is no longer there."""
        ...

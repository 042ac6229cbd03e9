"""Trade storage: the store of seed-003 trades kept before their payment (each call its own
transaction), and the trades' repository inside a unit of work (the transaction that moves a
trade's payment moves the trade with it)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from core.general_pay.trade import Trade, TradeStatus


class TradeRepository(Protocol):
    """Trades within one unit of work (one transaction)."""

    async def add(self, trade: Trade) -> None:
        """Insert; `ports.storage.DuplicateRequest` when the app already used its out_trade_no."""
        ...

    async def get_for_update(self, trade_id: str) -> Trade | None:
        """Read and lock the row until the transaction ends (where the database can)."""
        ...

    async def record_payment(
        self, trade_id: str, payment_id: str, status: TradeStatus, *, at: datetime, expected: TradeStatus
    ) -> None:
        """Move the trade to `status` with its payment, only from `expected` (a conditional
        update); `ports.storage.ConcurrentUpdate` when the trade is no longer there."""
        ...


class TradeStore(Protocol):
    async def add(self, trade: Trade) -> None:
        """`TradeRepository.add` in a transaction of its own."""
        ...

    async def get(self, trade_id: str) -> Trade | None: ...

    async def by_out_trade_no(self, app_id: str, out_trade_no: str) -> Trade | None: ...

    async def record_payment(
        self, trade_id: str, payment_id: str, status: TradeStatus, *, at: datetime, expected: TradeStatus
    ) -> None:
        """`TradeRepository.record_payment` in a transaction of its own."""
        ...

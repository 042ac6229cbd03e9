"""Trade storage: the row mapping, the trades' repository inside a unit of work (the payment's
transaction moves its trade), and the store (each call its own unit of work, so a SQLite writer
takes its turn like every other writer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from core.general_pay.model import MerchantLevel, SettlementType, UpperMerchant
from core.general_pay.trade import (
    FeePayer,
    ParallelType,
    PaySolution,
    Trade,
    TradeFlags,
    TradeStatus,
    TradeTerms,
)
from core.money import Money
from gateway.storage.trade_tables import trades as table
from ports.storage import ConcurrentUpdate, DuplicateRequest

if TYPE_CHECKING:  # the unit of work binds SqlTradeRows: imported for the types only
    from gateway.storage.uow import SqlUnitOfWork


def _solution_json(solution: PaySolution | None) -> dict[str, Any] | None:
    if solution is None:
        return None
    return {
        "upper_merchants": [
            {
                "account": m.account_id,
                "level": int(m.level),
                "fee_amount_minor": m.fee_amount.minor,
                "fee_plus_amount_minor": m.fee_plus_amount.minor,
            }
            for m in solution.upper_merchants
        ],
        "fee_solution": list(solution.fee_solution),
    }


def _solution(data: dict[str, Any] | None, currency: str) -> PaySolution | None:
    if data is None:
        return None
    merchants = tuple(
        UpperMerchant(
            m["account"],
            MerchantLevel(m["level"]),
            Money(m["fee_amount_minor"], currency),
            Money(m["fee_plus_amount_minor"], currency),
        )
        for m in data["upper_merchants"]
    )
    return PaySolution(merchants, tuple(data["fee_solution"]))


def _values(trade: Trade) -> dict[str, Any]:
    t = trade.terms
    f = t.flags
    return {
        "id": trade.id,
        "app_id": trade.app_id,
        "out_trade_no": trade.out_trade_no,
        "request_hash": trade.request_hash,
        "buyer_account": t.buyer_account_id,
        "seller_account": t.seller_account_id,
        "amount_minor": t.cash_amount.minor,
        "currency": t.cash_amount.currency,
        "pay_method": t.pay_method,
        "channel": t.channel,
        "settlement": t.settlement_type.value,
        "fee_amount_minor": None if t.fee_amount is None else t.fee_amount.minor,
        "fee_account": t.fee_account_id,
        "payment_mode": t.payment_mode,
        "parallel_type": t.parallel_type.value,
        "pay_solution": _solution_json(t.pay_solution),
        "flags": {**asdict(f), "fee_payer": f.fee_payer.value},
        "memo": t.memo,
        "status": trade.status.value,
        "payment_id": trade.payment_id,
        "created_at": trade.created_at,
        "updated_at": trade.updated_at,
    }


def row_to_trade(row: sa.Row[Any]) -> Trade:
    m = row._mapping
    currency = m["currency"]
    flags = dict(m["flags"])
    terms = TradeTerms(
        buyer_account_id=m["buyer_account"],
        seller_account_id=m["seller_account"],
        cash_amount=Money(m["amount_minor"], currency),
        pay_method=m["pay_method"],
        settlement_type=SettlementType(m["settlement"]),
        channel=m["channel"],
        fee_amount=None if m["fee_amount_minor"] is None else Money(m["fee_amount_minor"], currency),
        fee_account_id=m["fee_account"],
        payment_mode=m["payment_mode"],
        parallel_type=ParallelType(m["parallel_type"]),
        pay_solution=_solution(m["pay_solution"], currency),
        flags=TradeFlags(**{**flags, "fee_payer": FeePayer(flags["fee_payer"])}),
        memo=m["memo"],
    )
    return Trade(
        id=m["id"],
        app_id=m["app_id"],
        out_trade_no=m["out_trade_no"],
        request_hash=m["request_hash"],
        terms=terms,
        status=TradeStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        payment_id=m["payment_id"],
    )


class SqlTradeRows:
    """ports.trades.TradeRepository on one connection (the unit of work's transaction)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, trade: Trade) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(table.insert().values(**_values(trade)))
        except IntegrityError as exc:
            raise DuplicateRequest(trade.out_trade_no) from exc

    async def get_for_update(self, trade_id: str) -> Trade | None:
        stmt = sa.select(table).where(table.c.id == trade_id).with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return None if row is None else row_to_trade(row)

    async def record_payment(
        self, trade_id: str, payment_id: str, status: TradeStatus, *, at: datetime, expected: TradeStatus
    ) -> None:
        stmt = (
            table.update()
            .where(table.c.id == trade_id, table.c.status == expected.value)
            .values(status=status.value, payment_id=payment_id, updated_at=at)
        )
        if (await self.conn.execute(stmt)).rowcount != 1:
            raise ConcurrentUpdate(trade_id)


class SqlTrades:
    """ports.trades.TradeStore on the gateway's units of work."""

    def __init__(self, uow: Callable[[], SqlUnitOfWork], reads: Callable[[], SqlUnitOfWork]) -> None:
        self.uow = uow
        self.reads = reads

    async def add(self, trade: Trade) -> None:
        async with self.uow() as uow:
            await uow.trades.add(trade)
            await uow.commit()

    async def _one(self, stmt: sa.Select[Any]) -> Trade | None:
        async with self.reads() as uow:
            row = (await uow.conn.execute(stmt)).first()
        return None if row is None else row_to_trade(row)

    async def get(self, trade_id: str) -> Trade | None:
        return await self._one(sa.select(table).where(table.c.id == trade_id))

    async def by_out_trade_no(self, app_id: str, out_trade_no: str) -> Trade | None:
        return await self._one(
            sa.select(table).where(table.c.app_id == app_id, table.c.out_trade_no == out_trade_no)
        )

    async def record_payment(
        self, trade_id: str, payment_id: str, status: TradeStatus, *, at: datetime, expected: TradeStatus
    ) -> None:
        async with self.uow() as uow:
            await uow.trades.record_payment(trade_id, payment_id, status, at=at, expected=expected)
            await uow.commit()
